/** The shape of a job type: one file per type declares its schema, routing and handler. */
import type { Static, TSchema } from '@sinclair/typebox';
import type { Config } from '@sluice/config';
import type { Logger } from '@sluice/observability';

/** Named priority levels; the queue package maps them to BullMQ numbers. */
export const PRIORITY_LEVELS = ['critical', 'high', 'normal', 'low'] as const;
export type PriorityLevel = (typeof PRIORITY_LEVELS)[number];

export interface BackoffPolicy {
  type: 'exponential' | 'fixed';
  /** Base delay; exponential doubles it per attempt (delayMs, 2x, 4x, ...). */
  delayMs: number;
}

export interface SubmitOptions {
  delayMs?: number;
  priority?: PriorityLevel | number;
  attempts?: number;
  jobId?: string;
  userId?: string | null;
  removeOnComplete?: boolean | number;
  removeOnFail?: boolean | number;
}

/** What a handler may use to queue follow-up work; validated like any other submit. */
export interface JobSubmitter {
  /** `existed`: a job with `options.jobId` was already there, and nothing was queued. */
  submit(type: string, data: unknown, options?: SubmitOptions): Promise<{ id: string; existed?: boolean }>;
}

/** Facts about the running execution, free of any queue library types. */
export interface JobInfo {
  id: string;
  type: string;
  /** 1 for the first try, 2 for the first retry, ... */
  attempt: number;
  maxAttempts: number;
  queuedAt: Date;
  userId: string | null;
}

/** Audit-table housekeeping, implemented by @sluice/db: handlers never write SQL themselves. */
export interface AuditMaintenance {
  /** Deletes executions recorded before `cutoff`, `batchSize` rows per statement; resolves with how many went. */
  deleteExecutionsBefore(cutoff: Date, options: { batchSize: number; signal?: AbortSignal }): Promise<number>;
}

/** Capabilities the worker process offers handlers beyond the queue; absent ones are undefined. */
export interface JobServices {
  audit?: AuditMaintenance;
}

export interface JobContext {
  config: Config;
  queue: JobSubmitter;
  services: JobServices;
  /** Reports progress (0-100 or any JSON object) to the dashboard and API. */
  progress(value: number | Record<string, unknown>): Promise<void>;
  /** Aborted when the attempt times out; long handlers should stop early when it fires. */
  signal: AbortSignal;
}

export interface JobRunArgs<Data> {
  data: Data;
  job: JobInfo;
  log: Logger;
  ctx: JobContext;
}

export interface JobSchedule<Data> {
  /** Cron pattern (6 fields allowed, seconds first) or a fixed interval. */
  pattern?: string;
  everyMs?: number;
  /** IANA zone a pattern is read in. Default UTC (never the zone of whichever process computes a run). */
  tz?: string;
  /** Interval used instead by `queue:scheduler setup test`, so a daily job can be watched running. Default 10_000. */
  testEveryMs?: number;
  data: Data;
  /** Whether to register the schedule with this config (default: always). */
  enabled?: (config: Config) => boolean;
}

export interface JobDefinition<Schema extends TSchema = TSchema, Result = unknown> {
  description: string;
  schema: Schema;
  priority: PriorityLevel;
  /** Defaults to WORKER_QUEUE_JOB_ATTEMPTS. */
  attempts?: number;
  /** Defaults to exponential from 2000 ms. */
  backoff?: BackoffPolicy;
  /** An attempt running longer fails (and retries, if attempts remain). */
  timeoutMs?: number;
  /** Registered by `queue:scheduler setup` and at server start when scheduled jobs are enabled. */
  schedule?: JobSchedule<Static<Schema>>;
  run(args: JobRunArgs<Static<Schema>>): Promise<Result>;
}

/** Identity function that pins the generic parameters so `run` sees typed data. */
export function defineJob<const Schema extends TSchema, Result>(
  definition: JobDefinition<Schema, Result>,
): JobDefinition<Schema, Result> {
  return definition;
}
