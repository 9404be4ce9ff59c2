/** One execution (one attempt, or one re-run after a stall) of one job: what the audit trail stores. */
import { hostname } from 'node:os';

export interface ExecutionError {
  name: string;
  message: string;
  /** Trimmed to the first lines; full stacks belong in logs. */
  stack?: string;
}

export interface ExecutionRecord {
  /** Unique per execution: `<jobId>:<attemptsStarted>:<job timestamp>`. */
  executionId: string;
  jobId: string;
  type: string;
  userId: string | null;
  data: unknown;
  result?: unknown;
  error?: ExecutionError;
  status: 'completed' | 'failed';
  attempt: number;
  /** False when this failure was the last attempt or permanent. */
  willRetry: boolean;
  /** `host:pid` of the worker process that ran it. */
  worker: string;
  queuedAt: number;
  startedAt: number;
  completedAt: number;
  durationMs: number;
}

export const WORKER_ID = `${hostname()}:${process.pid}`;

const STACK_LINES = 12;

export function describeError(error: unknown): ExecutionError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const stack = error.stack?.split('\n').slice(0, STACK_LINES).join('\n');
  return { name: error.name, message: error.message, ...(stack ? { stack } : {}) };
}
