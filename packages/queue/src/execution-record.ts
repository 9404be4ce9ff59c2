/** One execution (one attempt, or one re-run after a stall) of one job: what the audit trail stores. */
import { hostname } from 'node:os';
import type { Job } from 'bullmq';
import type { JobEnvelope } from './job-options.ts';

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

/** The record of `job`'s current execution (the one BullMQ's `attemptsStarted` counts), ending at `completedAt`. */
export function executionRecordFor(
  job: Job<JobEnvelope>,
  run: { attempt: number; startedAt: number } & Pick<ExecutionRecord, 'status' | 'result' | 'error' | 'willRetry'>,
  completedAt = Date.now(),
): ExecutionRecord {
  return {
    executionId: `${job.id}:${job.attemptsStarted}:${job.timestamp}`,
    jobId: job.id!,
    type: job.name,
    userId: storedUserId(job.data?.userId),
    data: job.data?.data ?? null,
    worker: WORKER_ID,
    queuedAt: job.timestamp,
    completedAt,
    durationMs: completedAt - run.startedAt,
    ...run,
  };
}

/** Submits refuse a userId that is not a string; a job queued before that check may still hold a number. */
function storedUserId(userId: unknown): string | null {
  if (userId === undefined || userId === null) return null;
  return typeof userId === 'string' ? userId : typeof userId === 'object' ? JSON.stringify(userId) : String(userId);
}

const STACK_LINES = 12;

/** Characters of an error's name, message and stack that are kept: in the stream and in `worker_jobs`. */
export const ERROR_TEXT_LIMITS = { nameChars: 200, messageChars: 4096, stackChars: 8192 } as const;

/**
 * A thrown value as it is recorded: the stack's first lines, and every part cut to its limit,
 * before it reaches Redis. Never throws, whatever was thrown: a part that cannot be read
 * (a throwing getter or toString) is replaced, the message by `[unprintable thrown value: [object X]]`.
 * A value that is not an Error is recorded by its text: a string as it is, an object by its
 * string `message`, anything else as `handler threw a non-Error value: <value>`.
 */
export function describeError(error: unknown): ExecutionError {
  if (!readSafely(() => error instanceof Error, false)) return { name: 'Error', message: cutText(nonErrorText(error), ERROR_TEXT_LIMITS.messageChars) };
  const thrown = error as Error;
  const stack = readText(() => thrown.stack)?.split('\n').slice(0, STACK_LINES).join('\n');
  return {
    name: cutText(readText(() => thrown.name) || 'Error', ERROR_TEXT_LIMITS.nameChars),
    message: cutText(readText(() => thrown.message) ?? unprintable(error), ERROR_TEXT_LIMITS.messageChars),
    ...(stack ? { stack: cutText(stack, ERROR_TEXT_LIMITS.stackChars) } : {}),
  };
}

/** `read()`, or `fallback` when it throws. */
export function readSafely<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}

/** The text of what `read()` returns ('' for undefined or null); undefined when reading or converting it throws. */
function readText(read: () => unknown): string | undefined {
  return readSafely(() => {
    const value = read();
    return value === undefined || value === null ? '' : String(value);
  }, undefined);
}

/** What is said of a value whose text cannot be read: its `Object.prototype.toString` tag, `[object Error]`. */
function unprintable(value: unknown): string {
  return `[unprintable thrown value: ${readSafely(() => Object.prototype.toString.call(value), '[object Unknown]')}]`;
}

/** A thrown non-Error as text: a string as it is, an object's string `message`, else what it was. */
function nonErrorText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint') return `handler threw a non-Error value: ${value}n`;
  if (typeof value !== 'object' || value === null) return `handler threw a non-Error value: ${String(value)}`;
  const message = readSafely(() => (value as { message?: unknown }).message, undefined);
  if (typeof message === 'string') return message;
  const text = readText(() => String(value));
  if (text === undefined) return unprintable(value);
  // `[object Object]` says nothing; the object's JSON may (cut to the message limit later).
  const json = /^\[object \w+\]$/.test(text) ? readSafely(() => JSON.stringify(value) as string | undefined, undefined) : undefined;
  return `handler threw a non-Error value: ${json ?? text}`;
}

/** A count a cut could have written: text ending in a longer "marker" is cut like any other. */
const CUT_MARKER = /… \[truncated (\d{1,15}) chars\]$/;

/**
 * `text` cut to `max` UTF-16 units, with `… [truncated N chars]`; never half a surrogate pair
 * (Postgres rejects those). Text cut before (by the worker, then again by the audit writer)
 * is not cut again when what it kept fits, and otherwise its marker counts everything dropped.
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const marker = CUT_MARKER.exec(text);
  const body = marker ? text.slice(0, marker.index) : text;
  const droppedBefore = marker ? Number(marker[1]) : 0;
  if (marker && body.length <= max) return text;
  const code = body.charCodeAt(max - 1);
  const kept = code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
  return `${body.slice(0, kept)}… [truncated ${body.length - kept + droppedBefore} chars]`;
}
