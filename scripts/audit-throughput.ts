/**
 * `bun scripts/audit-throughput.ts [--jobs N] [--rounds N] [--processes N] [--concurrency N] [--sleep-ms MS] [--batch N] [--linger MS] [--redis-port N]`:
 * what auditing costs. Runs N echo jobs (sleepMs 0, or --sleep-ms) through real worker processes with
 * auditing off, append-only (workers write the stream, no writer runs: the hot-path cost
 * alone) and on (writer running), rounds in one run, each round starting with a different mode, and reports jobs/s for
 * each, the audit lag (handler finished -> row committed) p50/p99, and the CPU seconds each
 * process group spent while the queue drained (Linux). Starts its own Redis; audits into a
 * fresh database on DATABASE_URL's server (default: the local Postgres when it answers),
 * else into a fresh PGlite directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import postgres from 'postgres';
import { loadConfig } from '@sluice/config';
import { startAuditTrail } from '@sluice/db';
import { jobRegistry } from '@sluice/jobs';
import { createLogger } from '@sluice/observability';
import { QueueManager } from '@sluice/queue';
import { Supervisor } from '@sluice/supervisor';
import { WORKER_ENTRY } from '@sluice/worker-app';
import { namedProcessesCpuSeconds, processCpuSeconds, redisCpuSeconds, selfCpuSeconds } from './bench/cpu.ts';
import { ensureRedis } from './infra/redis.ts';
import { parseScriptArgs } from './infra/script-args.ts';

const say = (line: string) => process.stderr.write(`[audit-throughput] ${line}\n`);
const USAGE = `usage: bun scripts/audit-throughput.ts [options]
  --jobs N          echo jobs per mode and round (default 20000)
  --rounds N        rounds; each runs off, append-only and on (default 2)
  --processes N     worker processes (default 2)
  --concurrency N   jobs at once per worker process (default 50)
  --sleep-ms MS     how long each echo job waits (default 0)
  --batch N         most stream entries the writer reads at once (default 1000)
  --linger MS       the writer's wait after a short read (default 100)
  --redis-port N    the Redis it starts for itself (default 6397)
  --help            this text`;
const values: Record<string, string | boolean | undefined> = parseScriptArgs(
  {
    jobs: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '2' }, batch: { type: 'string' }, linger: { type: 'string' },
    concurrency: { type: 'string', default: '50' }, 'sleep-ms': { type: 'string', default: '0' }, processes: { type: 'string', default: '2' }, 'redis-port': { type: 'string', default: '6397' },
    help: { type: 'boolean' },
  },
  USAGE,
  say,
);
/** A whole-number flag, or exit 2 naming it. */
function flag(name: string, min: number): number {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min) {
    say(`error: --${name} must be a whole number >= ${min}, got "${values[name]}"`);
    process.exit(2);
  }
  return n;
}
const JOBS = flag('jobs', 1);
const ROUNDS = flag('rounds', 1);
const REDIS_PORT = flag('redis-port', 1);
const SLEEP_MS = flag('sleep-ms', 0);
const WORKERS = { WORKER_COUNT: String(flag('processes', 1)), WORKER_QUEUE_CONCURRENCY: String(flag('concurrency', 1)) };
const tuning = { ...(values.batch ? { batchSize: flag('batch', 1) } : {}), ...(values.linger ? { lingerMs: flag('linger', 0) } : {}) };
const MODES = ['off', 'append-only', 'on'] as const;
type Mode = (typeof MODES)[number];
const log = createLogger({ level: 'warn', pretty: false });

const redis = await ensureRedis({
  port: REDIS_PORT, name: 'sluice-audit-throughput-redis', mode: 'exclusive', stateDir: resolve(import.meta.dir, '../.data'), portHint: '--redis-port', log: say,
});
const database = await openDatabase();
try {
  const results: Awaited<ReturnType<typeof runRound>>[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    // Each round starts with a different mode, so none always runs first (on a cold Redis and JIT).
    for (const mode of MODES.map((_, i) => MODES[(i + round - 1) % MODES.length]!)) {
      const result = await runRound(mode, round);
      const cpu = Object.entries(result.cpuSeconds).map(([group, s]) => `${group} ${s.toFixed(2)}`).join(', ');
      say(`round ${round} audit ${mode}: ${result.jobsPerSec.toFixed(0)} jobs/s${mode === 'on' ? `, lag p50 ${pct(result.lagsMs, 50)} ms p99 ${pct(result.lagsMs, 99)} ms` : ''}; CPU s: ${cpu}`);
      results.push(result);
    }
  }
  // Median of the rounds: a round that shared the CPU with something else should not skew the ratio.
  const median = (mode: Mode) => pct(results.filter((r) => r.mode === mode).map((r) => r.jobsPerSec), 50);
  const cpuMedians = (mode: Mode) => {
    const rounds = results.filter((r) => r.mode === mode);
    return Object.fromEntries(Object.keys(rounds[0]!.cpuSeconds).map((group) => [group, pct(rounds.map((r) => r.cpuSeconds[group as keyof typeof r.cpuSeconds]), 50)]));
  };
  // The same ratio from each round's own pair, for the spread between rounds.
  const roundRatios = Array.from({ length: ROUNDS }, (_, i) => {
    const inRound = (mode: Mode) => results.find((r) => r.mode === mode && r.round === i + 1)!.jobsPerSec;
    return Number((inRound('on') / inRound('off')).toFixed(3));
  });
  const lags = results.flatMap((r) => r.lagsMs);
  const summary = {
    jobs: JOBS, sleepMs: SLEEP_MS, rounds: ROUNDS, store: database.kind, workers: WORKERS,
    offJobsPerSec: Math.round(median('off')), appendOnlyJobsPerSec: Math.round(median('append-only')), onJobsPerSec: Math.round(median('on')),
    appendOnlyRatio: Number((median('append-only') / median('off')).toFixed(3)), ratio: Number((median('on') / median('off')).toFixed(3)),
    roundRatios, roundRatioMedian: pct(roundRatios, 50),
    lagP50Ms: pct(lags, 50), lagP99Ms: pct(lags, 99), lagMaxMs: pct(lags, 100),
    // CPU seconds per process group while the queue drained (median of rounds).
    cpuSeconds: Object.fromEntries(MODES.map((mode) => [mode, cpuMedians(mode)])),
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
} finally {
  await database.drop();
  await redis.stop();
}

async function runRound(mode: Mode, round: number) {
  const env = { ...process.env, ...database.env, ...WORKERS, REDIS_URL: redis.url, QUEUE_PREFIX: `tp-${mode}-${round}-${process.pid}`, AUDIT_ENABLED: String(mode !== 'off'), LOG_LEVEL: 'warn' } as Record<string, string>;
  const config = loadConfig(env);
  const queue = await QueueManager.open({ config, registry: jobRegistry });
  const lagsMs: number[] = [];
  // In production the writer runs in the server process beside the supervisor; so here.
  const audit = mode === 'on' ? await startAuditTrail({ config, log, ...tuning, onInserted: (records) => {
    const now = Date.now();
    for (const record of records) lagsMs.push(now - record.completedAt);
  } }) : null;
  await audit?.ready;
  await queue.pause();
  const supervisor = new Supervisor({ entry: WORKER_ENTRY, count: Number(WORKERS.WORKER_COUNT), env, shutdownTimeoutMs: 10_000, log });
  supervisor.start();
  await until(() => supervisor.snapshot().every((c) => c.state === 'ready'));
  for (let i = 0; i < JOBS; i += 1000) {
    await queue.submitBulk(Array.from({ length: Math.min(1000, JOBS - i) }, (_, k) => ({ type: 'echo', data: { message: `m${i + k}`, sleepMs: SLEEP_MS }, options: { removeOnComplete: false } })));
  }
  const workerPids = supervisor.snapshot().map((child) => child.pid!);
  const cpuNow = async () => ({
    workers: workerPids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0),
    redis: await redisCpuSeconds(queue.connection),
    // The audit writer runs in this process, as it runs in the server in production.
    writer: selfCpuSeconds(),
    postgres: namedProcessesCpuSeconds('postgres'),
  });
  const before = await cpuNow();
  const started = performance.now();
  await queue.resume();
  await until(async () => (await queue.getCounts()).completed >= JOBS);
  const jobsPerSec = JOBS / ((performance.now() - started) / 1000);
  const after = await cpuNow();
  const cpuSeconds = {
    workers: round2(after.workers - before.workers),
    redis: round2(after.redis - before.redis),
    writer: round2(after.writer - before.writer),
    postgres: round2(after.postgres - before.postgres),
  };
  if (audit) await until(async () => lagsMs.length >= JOBS, 120_000);
  await supervisor.stop();
  await audit?.close();
  await queue.queue.obliterate({ force: true });
  await queue.close();
  return { mode, round, jobsPerSec, lagsMs, cpuSeconds };
}

async function openDatabase(): Promise<{ kind: string; env: Record<string, string>; drop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-tp-'));
  const server = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const admin = postgres(server, { max: 1, connect_timeout: 3, onnotice: () => {} });
  const name = `sluice_tp_${process.pid}`;
  try {
    await admin.unsafe(`create database ${name}`);
  } catch (error) {
    await admin.end();
    say(`no Postgres at ${server} (${(error as Error).message}); auditing into PGlite at ${dataDir}`);
    return { kind: 'pglite', env: { DATABASE_URL: '', DATA_DIR: dataDir }, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const url = new URL(server);
  url.pathname = `/${name}`;
  say(`auditing into Postgres database ${name} on ${url.host}`);
  return {
    kind: 'postgres',
    env: { DATABASE_URL: url.toString(), DATA_DIR: dataDir },
    async drop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function until(probe: () => boolean | Promise<boolean>, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await Bun.sleep(20);
  }
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
