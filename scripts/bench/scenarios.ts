/** The measurements, each run the same way against either system. */
import { QueueEvents, type Queue } from 'bullmq';
import type { EchoLike, System, WorkerShape } from './systems.ts';
import { namedProcessesCpuSeconds, processCpuSeconds, redisCpuSeconds } from './cpu.ts';
import { percentile, round, wallMs } from './stats.ts';

const BULK_CHUNK = 1000;
/** One-by-one adds keep this many requests in flight, like a busy API server would. */
const IN_FLIGHT = 64;

export interface EnqueueResult {
  bulkPerSec: number;
  singlePerSec: number;
}

export async function measureEnqueue(system: System, jobs: number): Promise<EnqueueResult> {
  const item: EchoLike = { message: 'enqueue' };
  let t0 = wallMs();
  for (let i = 0; i < jobs; i += BULK_CHUNK) {
    await system.addBulk(Array.from({ length: Math.min(BULK_CHUNK, jobs - i) }, () => item));
  }
  const bulkPerSec = (jobs / (wallMs() - t0)) * 1000;
  const single = Math.max(1000, Math.floor(jobs / 4));
  t0 = wallMs();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next++ < single) await system.add(item);
    }),
  );
  const singlePerSec = (single / (wallMs() - t0)) * 1000;
  await system.queue.obliterate({ force: true });
  return { bulkPerSec: round(bulkPerSec, 0), singlePerSec: round(singlePerSec, 0) };
}

export interface ThroughputResult {
  jobsPerSec: number;
  completed: number;
  failed: number;
  lost: number;
  peakRssMiB: number[];
  /** CPU µs per job from resume until the drain's work was done (the audit rows written), by process group. */
  cpuUsPerJob: CpuUse;
}

/**
 * Fills a paused queue, starts the workers, then times the drain from resume until
 * every job has completed or failed.
 */
export async function measureThroughput(system: System, jobs: number, item: EchoLike, shape: WorkerShape): Promise<ThroughputResult> {
  const { queue } = system;
  await queue.pause();
  for (let i = 0; i < jobs; i += BULK_CHUNK) {
    await system.addBulk(Array.from({ length: Math.min(BULK_CHUNK, jobs - i) }, () => item));
  }
  await system.startWorkers(shape);
  const cpu0 = await cpuUse(system);
  const t0 = Date.now();
  await queue.resume();
  const deadline = Date.now() + Math.max(120_000, jobs * 20);
  let counts = { completed: 0, failed: 0 };
  while (Date.now() < deadline) {
    counts = (await queue.getJobCounts('completed', 'failed')) as typeof counts;
    if (counts.completed + counts.failed >= jobs) break;
    await Bun.sleep(20);
  }
  // The drain ended when the last job finished, not when this poll noticed (up to 20 ms
  // later, a lot on a 0.3 s run): BullMQ scores its finished sets by finish time.
  const elapsed = Math.max(1, (await lastFinishedAt(queue)) - t0);
  await system.settle();
  const cpu1 = await cpuUse(system);
  const cpuUsPerJob = Object.fromEntries(
    Object.entries(cpu1).map(([group, seconds]) => [group, round(((seconds - cpu0[group as keyof CpuUse]) * 1e6) / jobs, 1)]),
  ) as unknown as CpuUse;
  const peakRssMiB = system.workerPeakRssMiB().map((v) => round(v, 1));
  await system.stopWorkers();
  const lost = jobs - counts.completed - counts.failed;
  return { jobsPerSec: round((counts.completed / elapsed) * 1000, 0), ...counts, lost, peakRssMiB, cpuUsPerJob };
}

export interface CpuUse {
  workers: number;
  redis: number;
  server: number;
  /** Local Postgres processes (0 with PGlite, which runs inside the server process). */
  postgres: number;
}

/** CPU seconds so far per process group (Linux /proc; NaN elsewhere). */
async function cpuUse(system: System): Promise<CpuUse> {
  const server = system.serverPid();
  return {
    workers: system.workerPids().reduce((sum, pid) => sum + processCpuSeconds(pid), 0),
    redis: await redisCpuSeconds(system.redis),
    server: server === null ? 0 : processCpuSeconds(server),
    postgres: namedProcessesCpuSeconds('postgres'),
  };
}

export interface LatencyResult {
  ratePerSec: number;
  jobs: number;
  startP50: number;
  startP95: number;
  startP99: number;
  doneP50: number;
  doneP95: number;
  doneP99: number;
  lost: number;
  /**
   * Jobs whose completion event the listener never saw (at high rates QueueEvents falls
   * behind and BullMQ trims the events stream under it): their start and done times come
   * from the job's own record instead (the handler's start, BullMQ's finishedOn).
   */
  timedFromJobRecord: number;
}

/**
 * Adds jobs one by one at a fixed rate against running workers and measures
 * enqueue -> handler start (from the handler's own clock) and enqueue -> completed
 * event seen by a QueueEvents listener, in ms. A job whose event the listener missed is
 * timed from its record: done is then BullMQ's finishedOn, which comes just before the event.
 */
export async function measureLatency(system: System, redisUrl: string, ratePerSec: number, durationMs: number): Promise<LatencyResult> {
  // Read on from the events stream's end as it is now. The default ('$' at the first read)
  // would miss a job that finished before that read was sent, and count it as lost.
  const [newest] = (await system.redis.xrevrange(system.queue.toKey('events'), '+', '-', 'COUNT', 1)) as [string, string[]][];
  const events = new QueueEvents('jobs', { connection: { url: redisUrl }, prefix: system.prefix, lastEventId: newest?.[0] ?? '0-0' });
  await events.waitUntilReady();
  const seen = new Map<string, { at: number; startedAt: number }>();
  events.on('completed', ({ jobId, returnvalue }) => {
    const value = typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue;
    seen.set(jobId, { at: wallMs(), startedAt: Number(value?.startedAt) });
  });

  const total = Math.round((ratePerSec * durationMs) / 1000);
  const sentAt = new Map<string, number>();
  const adds: Promise<void>[] = [];
  const t0 = wallMs();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((wallMs() - t0) * ratePerSec) / 1000) + 1);
    for (; sent < due; sent++) {
      const at = wallMs();
      adds.push(system.add({ message: 'latency' }).then((id) => void sentAt.set(id, at)));
    }
    await Bun.sleep(1);
  }
  await Promise.all(adds);
  const deadline = Date.now() + 30_000;
  while (seen.size < total && Date.now() < deadline) await Bun.sleep(20);
  await events.close();
  // Lost means the job never finished, whatever the listener saw.
  const unseen = [...sentAt.keys()].filter((id) => !seen.has(id));
  const states = await Promise.all(unseen.map((id) => system.queue.getJobState(id)));
  const lost = states.filter((state) => state !== 'completed' && state !== 'failed').length;
  // Every job is kept (removeOnComplete: false), so a missed event's times are in its record.
  const records = await Promise.all(unseen.map((id) => system.queue.getJob(id)));
  for (const job of records) {
    if (job?.id && job.finishedOn) seen.set(job.id, { at: job.finishedOn, startedAt: Number(job.returnvalue?.startedAt) });
  }
  if (unseen.length > 0) {
    const counts = new Map<string, number>();
    for (const state of states) counts.set(state, (counts.get(state) ?? 0) + 1);
    const byState = [...counts].map(([state, count]) => `${count} ${state}`).join(', ');
    process.stderr.write(`[bench] ${system.name} @${ratePerSec}/s: ${unseen.length} completion event(s) not seen (${byState}); timed from the jobs' records\n`);
  }

  const start: number[] = [];
  const done: number[] = [];
  for (const [id, at] of sentAt) {
    const event = seen.get(id);
    if (!event) continue;
    if (Number.isFinite(event.startedAt)) start.push(event.startedAt - at);
    done.push(event.at - at);
  }
  const p = (values: number[], q: number) => round(percentile(values, q), 2);
  return {
    ratePerSec,
    jobs: total,
    startP50: p(start, 50), startP95: p(start, 95), startP99: p(start, 99),
    doneP50: p(done, 50), doneP95: p(done, 95), doneP99: p(done, 99),
    lost: lost + (total - sentAt.size),
    timedFromJobRecord: records.filter((job) => job?.finishedOn).length,
  };
}

/** Epoch ms of the latest finish in the completed and failed sets (same host clock as ours). */
async function lastFinishedAt(queue: Queue): Promise<number> {
  const client = await queue.backend.client;
  const latest = await Promise.all(
    [queue.toKey('completed'), queue.toKey('failed')].map(async (key) => Number((await client.zrevrange(key, 0, 0, { WITHSCORES: true }))[1] ?? 0)),
  );
  return Math.max(...latest);
}
