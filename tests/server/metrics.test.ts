/** /metrics: with 2 worker processes, every execution is counted exactly once; promtool accepts the output. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { Redis } from 'ioredis';
import { sluiceKeys } from '@sluice/queue';
import { createTestDatabase, type TestDatabase } from './helpers/postgres.ts';
import { parseSamples, sumOf } from './helpers/prometheus-text.ts';
import { deletePrefix, SERVER_HOOK_TIMEOUT_MS, spawnServer, type ServerProcess } from './helpers/server-process.ts';
import { waitUntil } from './helpers/wait.ts';

setDefaultTimeout(60_000);

const COMPLETED = 50;
const FAILED = 10;
const N = COMPLETED + FAILED;

let db: TestDatabase;
let server: ServerProcess;

beforeAll(async () => {
  db = await createTestDatabase('metrics');
  server = await spawnServer({ label: 'metrics', env: { ...db.env, WORKER_COUNT: '2', WORKER_QUEUE_CONCURRENCY: '4' } });
}, SERVER_HOOK_TIMEOUT_MS);

afterAll(async () => {
  if (server) expect(await server.stop()).toBe(0);
  await deletePrefix(server?.prefix ?? 'none');
  await db?.drop();
});

const scrape = async () => {
  const response = await server.request('/metrics');
  expect(response.status).toBe(200);
  return { contentType: response.headers.get('content-type'), text: await response.text() };
};

describe('execution counters', () => {
  test(`${N} jobs on 2 worker processes: sluice_jobs_total sums to exactly ${N}`, async () => {
    // /ready needs only one worker process; this test needs both taking jobs.
    await waitUntil('both worker processes to be ready', async () => sumOf(parseSamples((await scrape()).text), 'sluice_worker_processes', { state: 'ready' }) === 2);
    const submits = [];
    for (let i = 0; i < N; i++) {
      // A short sleep spreads the jobs over both processes; one attempt so each job is one execution.
      const data = i < COMPLETED ? { message: `m${i}`, sleepMs: 20 } : { message: `f${i}`, sleepMs: 20, failPermanently: true };
      submits.push(server.request('/api/v1/jobs', { method: 'POST', json: { type: 'echo', data, attempts: 1 } }));
    }
    for (const response of await Promise.all(submits)) expect(response.status).toBe(201);

    await waitUntil(`sluice_jobs_total to reach ${N}`, async () => sumOf(parseSamples((await scrape()).text), 'sluice_jobs_total') >= N);
    // Nothing is left to count: the queue is drained and the audit stream is empty...
    await waitUntil('the queue and the audit backlog to drain', async () => {
      const samples = parseSamples((await scrape()).text);
      return sumOf(samples, 'sluice_audit_backlog') === 0 && sumOf(samples, 'sluice_queue_jobs', { state: 'active' }) === 0;
    });
    // ...so the totals are final, and exact.
    const samples = parseSamples((await scrape()).text);
    expect(sumOf(samples, 'sluice_jobs_total')).toBe(N);
    expect(sumOf(samples, 'sluice_jobs_total', { type: 'echo', status: 'completed' })).toBe(COMPLETED);
    expect(sumOf(samples, 'sluice_jobs_total', { type: 'echo', status: 'failed' })).toBe(FAILED);
    expect(sumOf(samples, 'sluice_job_duration_seconds_count')).toBe(N);
    expect(sumOf(samples, 'sluice_job_wait_seconds_count', { type: 'echo' })).toBe(N);
    expect(sumOf(samples, 'sluice_queue_jobs', { state: 'completed' })).toBe(COMPLETED);
    expect(sumOf(samples, 'sluice_queue_jobs', { state: 'failed' })).toBe(FAILED);

    // Both worker processes really ran jobs (the audit rows name the process). Read through the
    // server's history: on PGlite the server is the only process that may open the store.
    const history = (await (await server.request(`/api/v1/jobs/history?limit=1000`)).json()) as { rows: { worker: string }[]; nextCursor: string | null };
    expect(history.nextCursor).toBeNull();
    expect(new Set(history.rows.map((row) => row.worker)).size).toBe(2);
  });

  test('a record Postgres refuses shows in sluice_audit_parked, and is not counted as an execution', async () => {
    const before = sumOf(parseSamples((await scrape()).text), 'sluice_jobs_total');
    expect(sumOf(parseSamples((await scrape()).text), 'sluice_audit_parked')).toBe(0);
    // A record from another producer that Postgres refuses: attempt is an integer column.
    const now = Date.now();
    const refused = {
      executionId: `refused:1:${now}`, jobId: 'refused', type: 'echo', userId: null, data: {}, status: 'completed', attempt: 2 ** 31,
      willRetry: false, worker: 'elsewhere:1', queuedAt: now, startedAt: now, completedAt: now, durationMs: 0,
    };
    const redis = new Redis(process.env.REDIS_URL!);
    await redis.xadd(sluiceKeys(server.prefix).auditStream, '*', 'x', JSON.stringify([refused]));
    redis.disconnect();

    await waitUntil('sluice_audit_parked to reach 1', async () => sumOf(parseSamples((await scrape()).text), 'sluice_audit_parked') === 1);
    const samples = parseSamples((await scrape()).text);
    expect(sumOf(samples, 'sluice_jobs_total')).toBe(before);
    expect(sumOf(samples, 'sluice_audit_backlog')).toBe(0);
    expect(server.logs().some((line) => line.msg === 'audit record parked')).toBe(true);
  });

  test('a job whose result holds U+0000 is counted and recorded, with U+FFFD in its row', async () => {
    const samplesBefore = parseSamples((await scrape()).text);
    const before = sumOf(samplesBefore, 'sluice_jobs_total');
    const parkedBefore = sumOf(samplesBefore, 'sluice_audit_parked');
    // echo returns its message, and Postgres cannot store U+0000.
    const response = await server.request('/api/v1/jobs', { method: 'POST', json: { type: 'echo', data: { message: 'nul\u0000byte' }, attempts: 1 } });
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as { id: string };
    const rows = await waitUntil('the row', async () => {
      const found = ((await (await server.request(`/api/v1/jobs/history?jobId=${id}`)).json()) as { rows: any[] }).rows;
      return found.length > 0 ? found : undefined;
    });
    expect(rows.map((row) => ({ data: row.data, message: row.result?.message, status: row.status }))).toEqual([{ data: { message: 'nul\ufffdbyte' }, message: 'nul\ufffdbyte', status: 'completed' }]);
    expect(sumOf(parseSamples((await scrape()).text), 'sluice_jobs_total')).toBe(before + 1);
    expect(sumOf(parseSamples((await scrape()).text), 'sluice_audit_parked')).toBe(parkedBefore);
  });

  test('worker process and restart gauges come from the supervisor', async () => {
    const samples = parseSamples((await scrape()).text);
    expect(sumOf(samples, 'sluice_worker_processes', { state: 'ready' })).toBe(2);
    expect(sumOf(samples, 'sluice_worker_processes')).toBe(2);
    expect(sumOf(samples, 'sluice_worker_restarts_total')).toBe(0);
    // Default process metrics are there too.
    expect(samples.some((s) => s.name === 'process_resident_memory_bytes')).toBe(true);
  });
});

describe('exposition format', () => {
  test('served as Prometheus text, with HELP and TYPE for every sluice metric', async () => {
    const { contentType, text } = await scrape();
    expect(contentType).toContain('text/plain');
    for (const [name, type] of [
      ['sluice_jobs_total', 'counter'],
      ['sluice_job_duration_seconds', 'histogram'],
      ['sluice_job_wait_seconds', 'histogram'],
      ['sluice_queue_jobs', 'gauge'],
      ['sluice_worker_processes', 'gauge'],
      ['sluice_worker_restarts_total', 'counter'],
      ['sluice_audit_backlog', 'gauge'],
      ['sluice_audit_parked', 'gauge'],
    ]) {
      expect(text).toContain(`# TYPE ${name} ${type}\n`);
      expect(text).toContain(`# HELP ${name} `);
    }
  });

  const promtool = Bun.which('promtool');
  if (!promtool) process.stderr.write('[metrics.test] SKIP promtool check: promtool is not installed (apt-get install prometheus; .ci/run installs it)\n');
  test.skipIf(!promtool)('promtool check metrics accepts the output', async () => {
    const { text } = await scrape();
    const proc = Bun.spawn([promtool!, 'check', 'metrics'], { stdin: new Blob([text]), stdout: 'pipe', stderr: 'pipe' });
    const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    expect({ code, output: `${out}${err}`.trim() }).toEqual({ code: 0, output: '' });
  });
});
