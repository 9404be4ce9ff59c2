/**
 * `bun run bench`: Sluice beside raw BullMQ on one Redis, alternating rounds, medians
 * and sluice/raw ratios. See README.md#benchmark for what each figure means.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ensureRedis } from './infra/redis.ts';
import { openBenchAudit, type BenchAudit } from './bench/audit.ts';
import { parseBenchArgs, USAGE, UsageError, type BenchOptions } from './bench/options.ts';
import { renderMarkdown, summarise, type Sample } from './bench/report.ts';
import { measureEnqueue, measureLatency, measureThroughput } from './bench/scenarios.ts';
import { percentile } from './bench/stats.ts';
import { openRaw, openSluice, type EchoLike, type System, type WorkerShape } from './bench/systems.ts';

let options: BenchOptions;
try {
  options = parseBenchArgs(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  process.stderr.write(error.message ? `error: ${error.message}\n${USAGE}\n` : `${USAGE}\n`);
  process.exit(error.message ? 2 : 0);
}

const root = resolve(import.meta.dir, '..');
const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const redis = await ensureRedis({ port: options.redisPort, name: `sluice-bench-redis-${options.redisPort}`, mode: 'exclusive', stateDir: resolve(root, '.data'), portHint: '--redis-port', log: say });
const audit: BenchAudit = await openBenchAudit(say);
const samples: Sample[] = [];
let runNo = 0;

async function withSystem<T>(kind: 'raw' | 'sluice', fn: (system: System) => Promise<T>): Promise<T> {
  const prefix = `bench-${process.pid}-${++runNo}`;
  const open = kind === 'raw' ? openRaw : openSluice;
  const system = await open({ redisUrl: redis.url, prefix, env: audit.env });
  try {
    return await fn(system);
  } finally {
    await system.stopWorkers().catch(() => {});
    await system.close();
  }
}

function record(round: number, system: 'raw' | 'sluice', figure: string, value: number, unit: string): void {
  samples.push({ round, system, figure, value, unit });
}

async function throughput(round: number, kind: 'raw' | 'sluice', figure: string, jobs: number, item: EchoLike, shape: WorkerShape) {
  const since = new Date();
  const result = await withSystem(kind, (system) => measureThroughput(system, jobs, item, shape));
  say(`round ${round} ${kind} ${figure}: ${result.jobsPerSec} jobs/s (lost ${result.lost}, rss ${result.peakRssMiB.join('/')} MiB)`);
  record(round, kind, figure, result.jobsPerSec, 'jobs/s');
  record(round, kind, 'lost jobs', result.lost, 'jobs');
  for (const rss of result.peakRssMiB) record(round, kind, 'peak RSS per worker process', rss, 'MiB');
  if (figure === 'no-op throughput') {
    // Where the time goes: CPU per job from resume until the drain's audit rows are written.
    record(round, kind, 'no-op CPU per job: worker processes', result.cpuUsPerJob.workers, 'µs');
    record(round, kind, 'no-op CPU per job: Redis', result.cpuUsPerJob.redis, 'µs');
    if (kind === 'sluice') record(round, kind, 'no-op CPU per job: server process (audit writer, metrics)', result.cpuUsPerJob.server, 'µs');
    if (kind === 'sluice') record(round, kind, 'no-op CPU per job: Postgres', result.cpuUsPerJob.postgres, 'µs');
  }
  if (kind === 'sluice') {
    const rows = await audit.rowsSince(since);
    record(round, kind, 'lost audit rows', result.completed + result.failed - rows.count, 'rows');
    if (rows.lagsMs.length) record(round, kind, 'audit lag p50', percentile(rows.lagsMs, 50), 'ms');
    if (rows.lagsMs.length) record(round, kind, 'audit lag p99', percentile(rows.lagsMs, 99), 'ms');
  }
}

const KINDS = ['raw', 'sluice'] as const;
type Kind = (typeof KINDS)[number];

async function enqueue(round: number, kind: Kind): Promise<void> {
  const result = await withSystem(kind, (system) => measureEnqueue(system, options.jobs));
  record(round, kind, 'enqueue bulk', result.bulkPerSec, 'jobs/s');
  record(round, kind, 'enqueue one-by-one', result.singlePerSec, 'jobs/s');
  say(`round ${round} ${kind} enqueue: bulk ${result.bulkPerSec}/s, one-by-one ${result.singlePerSec}/s`);
}

async function latency(round: number, kind: Kind): Promise<void> {
  const since = new Date();
  await withSystem(kind, async (system) => {
    await system.startWorkers({ processes: kind === 'raw' ? 1 : options.processes, concurrency: options.concurrency });
    for (const rate of options.rates) {
      const result = await measureLatency(system, redis.url, rate, options.latencyMs);
      const fromRecords = result.timedFromJobRecord ? ` (${result.timedFromJobRecord} of ${result.jobs} timed from their job records)` : '';
      say(`round ${round} ${kind} latency @${rate}/s: start p50 ${result.startP50} p99 ${result.startP99} ms; done p50 ${result.doneP50} p99 ${result.doneP99} ms${fromRecords}; lost ${result.lost}`);
      for (const [name, value] of [['start', [result.startP50, result.startP95, result.startP99]], ['done', [result.doneP50, result.doneP95, result.doneP99]]] as const) {
        record(round, kind, `enqueue->${name} p50 @${rate}/s`, value[0], 'ms');
        record(round, kind, `enqueue->${name} p95 @${rate}/s`, value[1], 'ms');
        record(round, kind, `enqueue->${name} p99 @${rate}/s`, value[2], 'ms');
      }
      record(round, kind, 'lost jobs', result.lost, 'jobs');
      record(round, kind, `completions timed from job records @${rate}/s`, result.timedFromJobRecord, 'jobs');
    }
  });
  if (kind === 'sluice') {
    const rows = await audit.rowsSince(since);
    if (rows.lagsMs.length) {
      record(round, kind, 'audit lag p50', percentile(rows.lagsMs, 50), 'ms');
      record(round, kind, 'audit lag p99', percentile(rows.lagsMs, 99), 'ms');
    }
  }
}

/**
 * One round: every figure is measured for both systems back to back, so the machine's
 * drift (other tenants, thermal state) lands on both sides of each ratio alike.
 */
async function runRound(round: number): Promise<void> {
  const { concurrency: c, processes: p } = options;
  // Alternate who goes first so warm-up and drift do not favour one side.
  const order: Kind[] = round % 2 === 1 ? [...KINDS] : [...KINDS].reverse();
  const noop = { message: 'noop' };
  for (const kind of order) await enqueue(round, kind);
  for (const kind of order) await throughput(round, kind, 'no-op throughput', options.jobs, noop, { processes: 1, concurrency: c });
  if (p !== 1) await throughput(round, 'sluice', `no-op throughput, ${p} processes`, options.jobs, noop, { processes: p, concurrency: c });
  for (const kind of order) {
    // Raw runs one process; its I/O-bound run gets the same total concurrency as Sluice's processes together.
    const shape = kind === 'raw' ? { processes: 1, concurrency: c * p } : { processes: p, concurrency: c };
    await throughput(round, kind, 'I/O-bound throughput (sleepMs 20)', options.ioJobs, { message: 'io', sleepMs: 20 }, shape);
  }
  for (const kind of order) {
    await throughput(round, kind, 'CPU-bound throughput (cpuMs 5)', options.cpuJobs, { message: 'cpu', cpuMs: 5 }, { processes: kind === 'raw' ? 1 : p, concurrency: c });
  }
  for (const kind of order) await latency(round, kind);
}

/** Drops the run's database or PGlite directory and stops the Redis it started; once. */
let cleanedUp: Promise<void> | undefined;
const cleanUp = () => (cleanedUp ??= audit.close().finally(() => redis.stop()));
// Ctrl+C skips the finally below; the app and workers get the same SIGINT from the terminal.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    // The terminal and `bun run` may both deliver one Ctrl+C.
    if (cleanedUp) return;
    say(`${signal}: stopping; removing this run's audit store and Redis`);
    void cleanUp().finally(() => process.exit(130));
  });
}

const startedAt = new Date();
try {
  for (let round = 1; round <= options.rounds; round++) await runRound(round);
} finally {
  await cleanUp();
}

const summary = summarise(samples);
const machine = await describeMachine();
const markdown = renderMarkdown({ summary, options, machine, startedAt });
if (options.out) {
  const path = resolve(root, options.out);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, markdown);
  say(`report written to ${options.out}`);
}
process.stdout.write(options.json ? `${JSON.stringify({ machine, options, startedAt, summary, samples }, null, 2)}\n` : markdown);

async function describeMachine() {
  const { cpus, totalmem } = await import('node:os');
  const redisVersion = Bun.spawnSync(['redis-server', '--version']).stdout.toString().match(/v=([\d.]+)/)?.[1] ?? 'unknown';
  const bullmq = (await import('bullmq/package.json', { with: { type: 'json' } })).default.version;
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    bun: Bun.version,
    bullmq,
    redis: redisVersion,
    auditStore: audit.kind,
  };
}
