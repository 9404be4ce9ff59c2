/**
 * The two systems the benchmark compares on one Redis: `raw` (plain BullMQ, no Sluice
 * code) and `sluice` (the app as users run it: server + supervisor + workers + audit).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { loadConfig } from '@sluice/config';
import { jobRegistry } from '@sluice/jobs';
import { QueueManager, sluiceKeys } from '@sluice/queue';

const root = resolve(import.meta.dir, '../..');

export interface EchoLike {
  message: string;
  sleepMs?: number;
  cpuMs?: number;
}

export interface WorkerShape {
  processes: number;
  concurrency: number;
}

export interface System {
  readonly name: 'raw' | 'sluice';
  readonly prefix: string;
  readonly queue: Queue;
  /** A plain connection to the benchmark's Redis (INFO, stream lengths). */
  readonly redis: Redis;
  addBulk(items: EchoLike[]): Promise<void>;
  add(item: EchoLike): Promise<string>;
  startWorkers(shape: WorkerShape): Promise<void>;
  /** Peak resident set (VmHWM) of each worker process, in MiB. */
  workerPeakRssMiB(): number[];
  /** The running worker processes. */
  workerPids(): number[];
  /** The process around the workers (Sluice's server: supervisor, audit writer, metrics), if any. */
  serverPid(): number | null;
  /** Resolves once the work a drain left behind is done (Sluice: the audit stream is written out). */
  settle(): Promise<void>;
  stopWorkers(): Promise<void>;
  close(): Promise<void>;
}

export interface SystemOptions {
  redisUrl: string;
  prefix: string;
  /** Extra env for the Sluice app (database, log level). */
  env?: Record<string, string>;
}

/** Kept jobs let the benchmark count completions exactly; both systems keep them. */
const KEEP = { removeOnComplete: false, removeOnFail: false } as const;

export async function openRaw({ redisUrl, prefix }: SystemOptions): Promise<System> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('jobs', { connection, prefix });
  let procs: Bun.Subprocess[] = [];
  return {
    name: 'raw',
    prefix,
    queue,
    redis: connection,
    async addBulk(items) {
      await queue.addBulk(items.map((data) => ({ name: 'echo', data, opts: KEEP })));
    },
    async add(item) {
      return (await queue.add('echo', item, KEEP)).id!;
    },
    async startWorkers({ processes, concurrency }) {
      procs = Array.from({ length: processes }, () =>
        Bun.spawn([process.execPath, resolve(import.meta.dir, 'raw-worker.ts')], {
          env: { ...process.env, REDIS_URL: redisUrl, QUEUE_PREFIX: prefix, BENCH_CONCURRENCY: String(concurrency) },
          stdio: ['ignore', 'inherit', 'inherit'],
        }),
      );
      await waitForWorkers(queue, processes);
    },
    workerPeakRssMiB: () => procs.map((p) => peakRssMiB(p.pid)),
    workerPids: () => procs.map((p) => p.pid),
    serverPid: () => null,
    settle: async () => {},
    async stopWorkers() {
      await Promise.all(procs.map((p) => (p.kill('SIGTERM'), p.exited)));
      procs = [];
    },
    async close() {
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
      connection.disconnect();
    },
  };
}

export async function openSluice({ redisUrl, prefix, env = {} }: SystemOptions): Promise<System> {
  const config = loadConfig({ ...process.env, ...env, REDIS_URL: redisUrl, QUEUE_PREFIX: prefix });
  const manager = await QueueManager.open({ config, registry: jobRegistry });
  let app: Bun.Subprocess | null = null;
  const entry = resolve(root, 'apps/server/src/main.ts');
  return {
    name: 'sluice',
    prefix,
    queue: manager.queue,
    redis: manager.connection,
    async addBulk(items) {
      await manager.submitBulk(items.map((data) => ({ type: 'echo', data, options: KEEP })));
    },
    async add(item) {
      return (await manager.submit('echo', item, KEEP)).id;
    },
    async startWorkers({ processes, concurrency }) {
      const port = await freePort();
      app = Bun.spawn([process.execPath, entry], {
        env: {
          ...process.env,
          NODE_ENV: 'development',
          LOG_PRETTY: 'false',
          LOG_LEVEL: 'warn',
          ENABLE_SCHEDULED_JOBS: 'false',
          PORT: String(port),
          ...env,
          REDIS_URL: redisUrl,
          QUEUE_PREFIX: prefix,
          WORKER_COUNT: String(processes),
          WORKER_QUEUE_CONCURRENCY: String(concurrency),
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      await waitForWorkers(manager.queue, processes);
      // Timing starts only once the whole app is up (HTTP, audit writer), not just its workers.
      await waitForReady(`http://127.0.0.1:${port}/ready`);
    },
    workerPeakRssMiB: () => (app ? childPids(app.pid).map(peakRssMiB) : []),
    workerPids: () => (app ? childPids(app.pid) : []),
    serverPid: () => app?.pid ?? null,
    async settle() {
      // The writer deletes stream entries once their rows commit: an empty stream is a written-out one.
      const { auditStream } = sluiceKeys(prefix);
      const deadline = Date.now() + 60_000;
      while ((await manager.connection.xlen(auditStream)) > 0 && Date.now() < deadline) await Bun.sleep(10);
    },
    async stopWorkers() {
      if (!app) return;
      app.kill('SIGTERM');
      await app.exited;
      app = null;
    },
    async close() {
      await manager.queue.obliterate({ force: true }).catch(() => {});
      await manager.close();
    },
  };
}

async function waitForWorkers(queue: Queue, count: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await queue.getWorkersCount()) >= count) return;
    await Bun.sleep(50);
  }
  throw new Error(`${count} worker process(es) did not come up within ${timeoutMs} ms`);
}

async function waitForReady(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await fetch(url).catch(() => null))?.ok) return;
    await Bun.sleep(50);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

function childPids(parent: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) pids.push(Number(entry));
    } catch {
      // the process exited while we looked
    }
  }
  return pids;
}

function peakRssMiB(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}
