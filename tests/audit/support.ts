/** Shared pieces of the audit tests: real worker processes, a writer in the test process, polling. */
import type { Redis } from 'ioredis';
import type { Config } from '@sluice/config';
import { createAuditWriter, migrate, openAuditStore, type AuditStore, type AuditWriter, type AuditWriterOptions } from '@sluice/db';
import { createLogger } from '@sluice/observability';
import { connectRedis, sluiceKeys } from '@sluice/queue';
import { Supervisor } from '@sluice/supervisor';
import { WORKER_ENTRY } from '@sluice/worker-app';
import { pgliteDatabase, postgresDatabase, type TestDatabase } from '../helpers/db.ts';
import { testConfig } from '../helpers/env.ts';

export const quietLog = createLogger({ level: (process.env.SLUICE_TEST_LOG_LEVEL as 'silent') ?? 'silent', pretty: false });

/** Polls `probe` until it returns a truthy value; throws naming `what` at the deadline. */
type Falsy = false | null | undefined | 0 | '';

export async function waitFor<T>(what: string, probe: () => T | Falsy | Promise<T | Falsy>, timeoutMs = 30_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value as T;
      last = value;
    } catch (error) {
      last = error;
    }
    await Bun.sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

/** Real worker subprocesses (apps/worker/src/child.ts) under the real Supervisor. */
export async function startWorkers(env: Record<string, string>, count = 1): Promise<Supervisor> {
  const supervisor = new Supervisor({
    entry: WORKER_ENTRY,
    count,
    env: { ...env, LOG_LEVEL: process.env.SLUICE_TEST_LOG_LEVEL ?? 'fatal' },
    shutdownTimeoutMs: 5000,
    // A test SIGKILLs a worker on purpose; restart it at once.
    restartPolicy: { baseDelayMs: 50 },
    log: quietLog,
  });
  supervisor.start();
  await waitFor('worker processes ready', () => supervisor.snapshot().every((c) => c.state === 'ready'), 30_000);
  return supervisor;
}

export interface TestWriter {
  writer: AuditWriter;
  redis: Redis;
  stop(): Promise<void>;
}

/** An audit writer in the test process, on its own blocking connection. */
export async function startWriter(store: AuditStore, config: Config, options: Partial<AuditWriterOptions> = {}): Promise<TestWriter> {
  const redis = await connectRedis(config.redis.url, { role: 'blocking' });
  const writer = createAuditWriter({ store, redis, keys: sluiceKeys(config.redis.prefix), log: quietLog, blockMs: 200, ...options });
  writer.start();
  return {
    writer,
    redis,
    async stop() {
      await writer.stop(2000);
      redis.disconnect();
    },
  };
}

/** A private database on the given path (a Postgres database, or a PGlite directory), opened and migrated. */
export async function openMigratedStore(path: 'postgres' | 'pglite', label: string): Promise<{ db: TestDatabase; store: AuditStore }> {
  const db = path === 'postgres' ? await postgresDatabase(label.replaceAll('-', '_')) : pgliteDatabase(label);
  const store = await openAuditStore(testConfig(db.env));
  await migrate(store);
  return { db, store };
}
