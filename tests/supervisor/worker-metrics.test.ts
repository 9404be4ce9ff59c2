/** `bun run worker` with METRICS_PORT serves /metrics counting the executions its own audit writer wrote. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import net from 'node:net';
import { freePort } from '../helpers/ports.ts';
import { killIfRunning, spawnWorkerMain, type WorkerMainProcess } from '../helpers/processes.ts';
import { openTestQueue, type TestQueue } from '../helpers/queue.ts';
import { waitFor, within } from '../helpers/wait.ts';

let queue: TestQueue;
/** Every `bun run worker` a test started: a test that fails midway leaves its own running. */
const started: WorkerMainProcess[] = [];
const spawnWorker = (env: Record<string, string>) => {
  const worker = spawnWorkerMain(env);
  started.push(worker);
  return worker;
};

beforeAll(async () => {
  queue = await openTestQueue('worker-metrics');
}, 30_000);
afterAll(async () => {
  for (const worker of started) await killIfRunning(worker.proc);
  await queue?.close();
}, 30_000);

/** Sum of every `sluice_jobs_total` sample, by status. */
function jobsTotal(text: string): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const match of text.matchAll(/^sluice_jobs_total\{[^}]*status="(\w+)"[^}]*\} (\d+)$/gm)) {
    totals[match[1]!] = (totals[match[1]!] ?? 0) + Number(match[2]);
  }
  return totals;
}

test('two worker processes, 12 jobs: the host endpoint counts each execution once', async () => {
  const port = await freePort();
  const worker = spawnWorker({ ...queue.env, WORKER_COUNT: '2', WORKER_QUEUE_CONCURRENCY: '3', METRICS_PORT: String(port) });
  const url = `http://127.0.0.1:${port}/metrics`;
  await waitFor('the metrics endpoint', async () => (await fetch(url).catch(() => null))?.ok === true, { timeoutMs: 30_000 });
  // The endpoint answers before both processes are up; under load the second can take seconds.
  await waitFor('both worker processes ready in the metrics', async () => /^sluice_worker_processes\{state="ready"\} 2$/m.test(await (await fetch(url)).text()), { timeoutMs: 30_000 });

  await queue.manager.submitBulk([
    ...Array.from({ length: 9 }, (_, i) => ({ type: 'echo' as const, data: { message: `ok ${i}`, sleepMs: 20 } })),
    ...Array.from({ length: 3 }, (_, i) => ({ type: 'echo' as const, data: { message: `bad ${i}`, failPermanently: true } })),
  ]);

  const totals = await waitFor('12 executions in the metrics', async () => {
    const counted = jobsTotal(await (await fetch(url)).text());
    return (counted.completed ?? 0) + (counted.failed ?? 0) >= 12 && counted;
  }, { timeoutMs: 30_000 });
  expect(totals).toEqual({ completed: 9, failed: 3 });

  const text = await (await fetch(url)).text();
  expect(text).toMatch(/^sluice_worker_processes\{state="ready"\} 2$/m);
  expect(text).toMatch(/^sluice_worker_processes\{state="starting"\} 0$/m);
  expect(text).not.toContain('sluice_queue_jobs{');
  expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
  // Bound to loopback, it answers to loopback names only (DNS rebinding), as the server does.
  const rebound = await fetch(url, { headers: { host: `attacker.example:${port}` } });
  expect(rebound.status).toBe(403);
  expect(((await rebound.json()) as any).error.code).toBe('HOST_NOT_ALLOWED');
  expect((await fetch(url, { headers: { host: `localhost:${port}` } })).status).toBe(200);
  // An HTTP/1.0 probe sends no Host header.
  expect(await rawRequest(port, 'GET /health HTTP/1.0\r\n\r\n')).toStartWith('HTTP/1.1 200');

  worker.proc.kill('SIGTERM');
  expect(await within('the worker to exit', worker.exited, 30_000)).toBe(0);
}, 90_000);

test('a METRICS_PORT already taken stops the start with exit 1 and one line, before any worker is forked', async () => {
  const taken = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('someone else') });
  try {
    const refused = spawnWorker({ ...queue.env, WORKER_COUNT: '1', METRICS_PORT: String(taken.port), LOG_LEVEL: 'info', LOG_PRETTY: 'false' });
    expect(await within('bun run worker to exit', refused.exited, 30_000)).toBe(1);
    expect(refused.stderr()).toContain(`sluice worker: cannot serve metrics on 127.0.0.1:${taken.port} (the port is in use): set METRICS_PORT to a free port`);
    // Before: a stack trace, after two worker processes had been forked (and went on alone).
    expect(refused.stderr()).not.toContain('    at ');
    expect(refused.stdout()).not.toContain('supervisor started');
  } finally {
    taken.stop(true);
  }
}, 45_000);

/** The response to a request written byte for byte, as a probe without a Host header sends it. */
function rawRequest(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let response = '';
    socket.on('data', (chunk) => (response += chunk));
    socket.on('end', () => resolve(response));
    socket.on('error', reject);
  });
}
