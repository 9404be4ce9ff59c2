/** SIGTERM on a production-mode server: HTTP stops first, the running job finishes, its audit row is flushed, exit 0. */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { createTestDatabase, type TestDatabase } from './helpers/postgres.ts';
import { deletePrefix, spawnServer, type ServerProcess } from './helpers/server-process.ts';
import { waitUntil } from './helpers/wait.ts';

setDefaultTimeout(60_000);

const TOKEN = 'graceful-token';
let db: TestDatabase;
let server: ServerProcess;

beforeAll(async () => {
  db = await createTestDatabase('graceful');
  // What `bun run start` runs: NODE_ENV=production, so credentials are required.
  server = await spawnServer({
    label: 'graceful',
    authorization: `Bearer ${TOKEN}`,
    env: { NODE_ENV: 'production', ADMIN_TOKEN: TOKEN, DATABASE_URL: db.url, WORKER_COUNT: '1', WORKER_SHUTDOWN_TIMEOUT: '20000' },
  });
});

afterAll(async () => {
  await server?.stop('SIGKILL');
  await deletePrefix(server?.prefix ?? 'none');
  await db?.drop();
});

test('SIGTERM: stop accepting requests, drain the running job, flush its audit row, exit 0', async () => {
  const submitted = await server.request('/api/v1/jobs', { method: 'POST', json: { type: 'echo', data: { message: 'finish me', sleepMs: 2500 } } });
  expect(submitted.status).toBe(201);
  const { id } = (await submitted.json()) as { id: string };
  await waitUntil('the job to be running', async () => ((await (await server.request(`/api/v1/jobs/${id}`)).json()) as any).state === 'active');

  let exited = false;
  void server.exited.then(() => (exited = true));
  const stopped = server.stop('SIGTERM');

  // The listener closes while the job is still running, so the process is still up.
  await waitUntil('the server to refuse connections', async () => {
    const refused = await fetch(`${server.url}/health`).then(() => false, () => true);
    return refused;
  }, 10_000, 20);
  expect(exited).toBe(false);

  expect(await stopped).toBe(0);
  const [row] = await db.sql`select status, job_id from worker_jobs where job_id = ${id}`;
  expect(row).toEqual({ status: 'completed', job_id: id });

  const messages = server.logs().map((line) => line.msg);
  expect(messages).toContain('server stopping: no new requests, workers drain, audit flushes');
  expect(messages).toContain('server stopped');
  // Production logs are JSON lines.
  expect(server.logs().length).toBeGreaterThan(3);
});
