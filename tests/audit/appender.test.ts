/** The worker-side appender on both job-connection clients: order on the wire, refused appends kept and retried. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { ensureRedis } from '../../scripts/infra/redis.ts';
import { freePort } from '../helpers/ports.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { countRecords, createAuditAppender } from '@sluice/db';
import { connectRedis, openWorkerConnection, sluiceKeys, WORKER_REDIS_CLIENTS, type ExecutionRecord, type WorkerConnection } from '@sluice/queue';
import { testConfig, uniquePrefix } from '../helpers/env.ts';
import { quietLog, waitFor } from './support.ts';

let seq = 0;
function record(): ExecutionRecord {
  const now = Date.now();
  const jobId = `a-${++seq}`;
  return {
    executionId: `${jobId}:1:${now}`, jobId, type: 'echo', userId: null, data: { message: jobId }, result: { ok: true },
    status: 'completed', attempt: 1, willRetry: false, worker: 'host:1', queuedAt: now - 2, startedAt: now - 1, completedAt: now, durationMs: 1,
  };
}

const countIn = (entries: [string, string[]][]) => entries.reduce((n, [, fields]) => n + countRecords(fields), 0);

for (const kind of WORKER_REDIS_CLIENTS) {
  describe(`audit appender on a ${kind} job connection`, () => {
    const config = testConfig({ QUEUE_PREFIX: uniquePrefix(`appender-${kind}`) });
    const { auditStream } = sluiceKeys(config.redis.prefix);
    let jobs: WorkerConnection;
    let probe: Redis;

    beforeAll(async () => {
      jobs = openWorkerConnection(config.redis.url, { kind, connectionName: `appender-test-${kind}`, onError: () => {} });
      probe = await connectRedis(config.redis.url, { role: 'producer' });
    });

    afterAll(async () => {
      await probe.del(auditStream);
      probe.disconnect();
      jobs.close();
    });

    const refuseAppends = async () => {
      await probe.del(auditStream);
      // A string where the stream should be: every XADD to it fails with WRONGTYPE.
      await probe.set(auditStream, 'not a stream');
    };

    test('a command sent after append() resolves finds the records already in the stream', async () => {
      const { append } = createAuditAppender({ send: jobs.send, streamKey: auditStream });
      await probe.del(auditStream);
      await Promise.all([append(record()), append(record()), append(record())]);
      // What BullMQ does next with the job: a command on the same connection, sent without
      // waiting for the XADD's reply.
      const entries = (await jobs.send('XRANGE', [auditStream, '-', '+'])) as [string, string[]][];
      expect(countIn(entries)).toBe(3);
    });

    test('an append Redis refuses is kept in memory and lands once Redis accepts it again', async () => {
      let xadds = 0;
      const send: typeof jobs.send = (command, args) => {
        if (command === 'XADD') xadds++;
        return jobs.send(command, args);
      };
      const appender = createAuditAppender({ send, streamKey: auditStream, log: quietLog, retry: { initialMs: 50, maxMs: 100 } });
      await refuseAppends();
      const refused = record();
      await appender.append(refused);
      await waitFor('the refused record to be kept for a retry', () => appender.pending() === 1);
      // Refused again on each retry meanwhile, and still kept.
      await waitFor('three retries', () => xadds >= 4);
      expect(appender.pending()).toBe(1);

      await probe.del(auditStream);
      await waitFor('the kept record to be appended', () => appender.pending() === 0);
      const entries = (await probe.xrange(auditStream, '-', '+')) as [string, string[]][];
      expect(countIn(entries)).toBe(1);
      expect(JSON.parse(entries[0]![1][1]!)[0].executionId).toBe(refused.executionId);
    });

    test('drain() during a timer retry in flight sends each kept entry once, and none is skipped', async () => {
      let slow = false;
      let inFlight = 0;
      let unslowedInFlight = 0;
      let refusals = 0;
      // XADDs take 100 ms to reach Redis once slowed, so the timer's retry is still in flight when drain() starts.
      const send: typeof jobs.send = async (command, args) => {
        if (command !== 'XADD') return jobs.send(command, args);
        if (!slow) {
          unslowedInFlight++;
          try {
            return await jobs.send(command, args);
          } catch (error) {
            refusals++;
            throw error;
          } finally {
            unslowedInFlight--;
          }
        }
        inFlight++;
        try {
          await Bun.sleep(100);
          return await jobs.send(command, args);
        } finally {
          inFlight--;
        }
      };
      const appender = createAuditAppender({ send, streamKey: auditStream, retry: { initialMs: 50, maxMs: 50 } });
      await refuseAppends();
      const first = record();
      const second = record();
      await appender.append(first);
      await appender.append(second); // another event-loop turn: a second kept entry
      // Both refused (pending() counts a record from its send, before Redis answers). The timer
      // retries every 50 ms and is refused again each time, so more refusals may be counted by now.
      await waitFor('both entries to be refused and kept', () => refusals >= 2 && appender.pending() === 2);

      // Slowed, and no unslowed retry still on the wire, before Redis accepts again: no retry
      // can slip through unslowed in between.
      slow = true;
      await waitFor('unslowed retries to be answered', () => unslowedInFlight === 0, 5000, 5);
      await probe.del(auditStream);
      await waitFor('a timer retry to be in flight', () => inFlight >= 1, 5000, 5);
      expect(await appender.drain(5000)).toBe(true);
      const entries = (await probe.xrange(auditStream, '-', '+')) as [string, string[]][];
      const ids = entries.flatMap(([, fields]) => (JSON.parse(fields[1]!) as ExecutionRecord[]).map((r) => r.executionId));
      expect(ids).toEqual([first.executionId, second.executionId]);
    });

    test('drain() stops at its deadline while Redis still refuses, and keeps what is left', async () => {
      const appender = createAuditAppender({ send: jobs.send, streamKey: auditStream, retry: { initialMs: 50, maxMs: 100 } });
      await refuseAppends();
      await Promise.all([appender.append(record()), appender.append(record())]);
      await waitFor('both records to be kept', () => appender.pending() === 2);
      expect(await appender.drain(300)).toBe(false);
      expect(appender.pending()).toBe(2);

      await probe.del(auditStream);
      expect(await appender.drain(5000)).toBe(true);
      expect(countIn((await probe.xrange(auditStream, '-', '+')) as [string, string[]][])).toBe(2);
    });

    test('drain() stops at its deadline when Redis takes a retry and never answers (paused), and keeps the record', async () => {
      const paused = await startRedisServer();
      const own = openWorkerConnection(paused.url, { kind, connectionName: `appender-paused-${kind}`, onError: () => {} });
      try {
        await own.send('SET', [auditStream, 'not a stream']);
        const appender = createAuditAppender({ send: own.send, streamKey: auditStream, log: quietLog, retry: { initialMs: 50, maxMs: 100 } });
        await appender.append(record());
        await waitFor('the refused record to be kept for a retry', () => appender.pending() === 1);
        paused.proc.kill('SIGSTOP');
        // Before, drain() awaited the retry pass itself: with Redis silent, until it answered.
        // A worker stopping with no supervisor left to kill it never exited.
        expect(await appender.drain(300)).toBe(false);
        expect(appender.pending()).toBe(1);

        paused.proc.kill('SIGCONT');
        await own.send('DEL', [auditStream]);
        expect(await appender.drain(10_000)).toBe(true);
        expect(countIn((await own.send('XRANGE', [auditStream, '-', '+'])) as [string, string[]][])).toBe(1);
      } finally {
        paused.proc.kill('SIGCONT');
        own.close();
        await paused.stop();
      }
    }, 20_000);

    test('while Redis is unreachable, records the client holds unsent are pending, and drain() waits until they land', async () => {
      // Its own redis-server, stopped and started again on the same port.
      const stateDir = mkdtempSync(join(tmpdir(), 'sluice-appender-redis-'));
      const port = await freePort();
      const start = () => ensureRedis({ port, name: `sluice-appender-redis-${port}`, mode: 'exclusive', stateDir });
      let redis = await start();
      const own = openWorkerConnection(redis.url, { kind, connectionName: `appender-offline-${kind}`, onError: () => {} });
      try {
        await own.send('PING', []);
        await redis.stop();
        const appender = createAuditAppender({ send: own.send, streamKey: auditStream, retry: { initialMs: 50, maxMs: 100 } });
        const held = record();
        // The job goes on: the XADD is handed to the client, which holds it until Redis is back.
        await appender.append(held);
        // Before, pending() was 0 here and drain() said true, so a worker stopping now logged no lost records.
        expect(appender.pending()).toBe(1);
        expect(await appender.drain(300)).toBe(false);

        redis = await start();
        expect(await appender.drain(15_000)).toBe(true);
        const entries = (await own.send('XRANGE', [auditStream, '-', '+'])) as [string, string[]][];
        expect(entries.flatMap(([, fields]) => (JSON.parse(fields[1]!) as ExecutionRecord[]).map((r) => r.executionId))).toEqual([held.executionId]);
      } finally {
        own.close();
        await redis.stop();
        rmSync(stateDir, { recursive: true, force: true });
      }
    }, 30_000);
  });
}
