/** A real server with AUDIT_ENABLED=false: jobs run, no database is needed or touched, and history routes say auditing is off. */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { Redis } from 'ioredis';
import { sluiceKeys } from '@sluice/queue';
import { connectionRecorder, type ConnectionRecorder } from '../helpers/ports.ts';
import { deletePrefix, spawnServer, type ServerProcess } from './helpers/server-process.ts';
import { waitUntil } from './helpers/wait.ts';

setDefaultTimeout(60_000);

let database: ConnectionRecorder;
let server: ServerProcess;

beforeAll(async () => {
  // DATABASE_URL points at a port that counts connections and never answers.
  database = await connectionRecorder();
  server = await spawnServer({
    label: 'audit-off',
    env: { AUDIT_ENABLED: 'false', DATABASE_URL: `postgres://postgres@127.0.0.1:${database.port}/none`, WORKER_COUNT: '1', ADMIN_GUARD_READS: 'false', ADMIN_TOKEN: 'off-token' },
    authorization: 'Bearer off-token',
  });
});

afterAll(async () => {
  if (server) expect(await server.stop()).toBe(0);
  await deletePrefix(server?.prefix ?? 'none');
  await database?.close();
});

test('ready without a database, jobs complete, nothing is appended, and /history is a 503 naming AUDIT_ENABLED', async () => {
  const ready = (await (await server.request('/ready')).json()) as any;
  expect(ready.status).toBe('ready');
  expect(ready.checks.database.status).toBe('disabled');

  const submitted = await server.request('/api/v1/jobs', { method: 'POST', json: { type: 'echo', data: { message: 'unaudited' } } });
  expect(submitted.status).toBe(201);
  const { id } = (await submitted.json()) as { id: string };
  const job = await waitUntil(`job ${id} to complete`, async () => {
    const body = (await (await server.request(`/api/v1/jobs/${id}`)).json()) as any;
    return body.state === 'completed' && body;
  });
  expect(job.result.message).toBe('unaudited');
  expect(job.audit).toBeNull();
  const stats = (await (await server.request('/api/v1/jobs/stats')).json()) as any;
  expect(stats.counts.completed).toBe(1);
  expect(stats.types).toBeNull();

  const history = await server.request('/api/v1/jobs/history');
  expect(history.status).toBe(503);
  const { error } = (await history.json()) as { error: { code: string; message: string } };
  expect(error.code).toBe('AUDIT_UNAVAILABLE');
  expect(error.message).toContain('AUDIT_ENABLED=false');

  const health = (await (await server.request('/api/v1/jobs/health')).json()) as any;
  expect(health.database.status).toBe('disabled');
  // No table to read: no verdict per type, rather than `ok` with no runs while jobs complete.
  expect(health.types.find((t: any) => t.type === 'echo')).toMatchObject({ status: 'unknown', count: null, successRate: null });
  expect(health.types.every((t: any) => t.status === 'unknown')).toBe(true);

  const redis = new Redis(server.env.REDIS_URL!);
  try {
    expect(await redis.exists(sluiceKeys(server.prefix).auditStream)).toBe(0);
  } finally {
    redis.disconnect();
  }
  expect(database.connections()).toBe(0);
});
