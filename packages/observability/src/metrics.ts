/** The server's one Prometheus registry and every `sluice_*` metric. Values arrive from injected sources. */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from './logger.ts';

/** The facts of one finished execution that the counters need (a subset of ExecutionRecord). */
export interface ExecutionSample {
  type: string;
  status: 'completed' | 'failed';
  durationMs: number;
  queuedAt: number;
  startedAt: number;
}

/** A worker process as the supervisor reports it (a subset of ChildSnapshot). */
export interface WorkerSample {
  state: string;
  restarts: number;
}

/**
 * Where scrape-time values come from. Each is optional so a process without a
 * supervisor or an audit writer still serves the rest.
 */
export interface MetricSources {
  queueCounts?: () => Promise<Record<string, number>>;
  workers?: () => readonly WorkerSample[];
  auditBacklog?: () => Promise<number>;
  auditParked?: () => Promise<number>;
}

export interface MetricsOptions {
  sources?: MetricSources;
  /** Logs a source that fails during a scrape; the scrape still succeeds with the other metrics. */
  log?: Logger;
  /** Collect Node/Bun process metrics (CPU, memory, event loop lag). Default true. */
  processMetrics?: boolean;
  /** How long a scrape waits for one source (a Redis read) before giving up on it. Default 2000 ms. */
  sourceTimeoutMs?: number;
}

/** Worker process states the supervisor knows; each is always exported, 0 when empty. */
export const WORKER_STATES = ['starting', 'ready', 'unresponsive', 'backoff', 'stopping', 'stopped'] as const;

const LINT_FAILING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** Seconds. Jobs range from sub-millisecond echoes to multi-minute chain scans. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Seconds. Queue wait includes deliberate delays and backoff, so the tail is long. */
const WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];

export interface Metrics {
  readonly registry: Registry;
  /** Counts executions. Call once per execution: the audit writer calls it for newly inserted rows only. */
  recordExecutions(samples: readonly ExecutionSample[]): void;
  /** The Prometheus text exposition. */
  render(): Promise<string>;
  readonly contentType: string;
}

export function createMetrics({ sources = {}, log, processMetrics = true, sourceTimeoutMs = 2000 }: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (processMetrics) {
    collectDefaultMetrics({ register: registry });
    // promtool's lint rejects gauges named *_total; these three prom-client gauges are the only offenders.
    for (const name of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(name);
  }

  // A failing or hanging source must not fail or stall the whole scrape: its metric keeps its last values.
  const guarded = async (metric: string, read: () => Promise<void> | void) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        read(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${sourceTimeoutMs} ms`)), sourceTimeoutMs);
        }),
      ]);
    } catch (error) {
      log?.warn({ metric, err: error instanceof Error ? error.message : String(error) }, 'metric source failed during scrape');
    } finally {
      clearTimeout(timer);
    }
  };

  const jobsTotal = new Counter({
    name: 'sluice_jobs_total',
    help: 'Job executions (every attempt) by job type and outcome.',
    labelNames: ['type', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'sluice_job_duration_seconds',
    help: 'Time a handler ran, per execution, by job type and outcome.',
    labelNames: ['type', 'status'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const wait = new Histogram({
    name: 'sluice_job_wait_seconds',
    help: 'Time from a job being queued to an execution starting, by job type.',
    labelNames: ['type'] as const,
    buckets: WAIT_BUCKETS,
    registers: [registry],
  });

  new Gauge({
    name: 'sluice_queue_jobs',
    help: 'Jobs in the queue by state, read from Redis at scrape time.',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const read = sources.queueCounts;
      if (!read) return;
      await guarded('sluice_queue_jobs', async () => {
        for (const [state, count] of Object.entries(await read())) this.set({ state }, count);
      });
    },
  });
  new Gauge({
    name: 'sluice_worker_processes',
    help: 'Worker processes of this server\'s supervisor by state.',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const workers = sources.workers?.() ?? [];
      for (const state of WORKER_STATES) this.set({ state }, workers.filter((w) => w.state === state).length);
    },
  });
  new Counter({
    name: 'sluice_worker_restarts_total',
    help: 'Worker processes restarted by this server\'s supervisor after exiting unexpectedly.',
    registers: [registry],
    collect() {
      // The supervisor keeps the running total; mirror it rather than counting twice.
      const total = (sources.workers?.() ?? []).reduce((sum, w) => sum + w.restarts, 0);
      this.reset();
      this.inc(total);
    },
  });
  /** A gauge read from the audit streams at scrape time; absent when this process runs no writer. */
  const auditGauge = (name: string, help: string, read: (() => Promise<number>) | undefined) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        if (!read) return;
        await guarded(name, async () => this.set(await read()));
      },
    });
  auditGauge(
    'sluice_audit_backlog',
    'Entries in the audit stream waiting to be written to the database; each holds the execution records one worker finished in one event-loop turn (1 to 100).',
    sources.auditBacklog,
  );
  auditGauge(
    'sluice_audit_parked',
    'Execution records the database refused (a value it cannot store), kept in the parked audit stream for inspection; at most about 10,000 are kept.',
    sources.auditParked,
  );

  return {
    registry,
    contentType: registry.contentType,
    recordExecutions(samples) {
      // The writer hands over whole batches, mostly of one type and outcome: one counter step per pair.
      const counts = new Map<string, { type: string; status: string; n: number }>();
      for (const sample of samples) {
        const key = `${sample.type}\n${sample.status}`;
        const count = counts.get(key);
        if (count) count.n++;
        else counts.set(key, { type: sample.type, status: sample.status, n: 1 });
        duration.observe({ type: sample.type, status: sample.status }, sample.durationMs / 1000);
        wait.observe({ type: sample.type }, Math.max(0, sample.startedAt - sample.queuedAt) / 1000);
      }
      for (const { type, status, n } of counts.values()) jobsTotal.inc({ type, status }, n);
    },
    render: () => registry.metrics(),
  };
}
