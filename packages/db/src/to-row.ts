/** Turns a stream record into a `worker_jobs` row, truncating oversized payloads with a marker. */
import type { ExecutionStatus, StoredError } from './schema.ts';
import type { DecodedRecord } from './stream-entry.ts';

/** A row as the audit writer inserts it: payloads stay JSON text, cast to jsonb by Postgres. */
export interface AuditRow {
  execution_id: string;
  job_id: string;
  type: string;
  user_id: string | null;
  data: string | null;
  result: string | null;
  error: StoredError | null;
  status: ExecutionStatus;
  attempt: number;
  will_retry: boolean;
  worker: string;
  queued_at: string;
  started_at: string;
  completed_at: string;
  duration_ms: number;
}

export interface TruncationLimits {
  /** Largest `data` or `result` stored as is, in bytes of JSON. Default 64 KiB. */
  jsonBytes: number;
  /** Characters of oversized JSON kept as a preview. Default 1024. */
  previewChars: number;
  /** Characters of an error message kept. Default 4096. */
  errorMessageChars: number;
  /** Characters of an error stack kept. Default 8192. */
  errorStackChars: number;
}

export const DEFAULT_LIMITS: TruncationLimits = { jsonBytes: 64 * 1024, previewChars: 1024, errorMessageChars: 4096, errorStackChars: 8192 };

/** Marker stored in place of an oversized `data` or `result`. */
export interface TruncatedJson {
  _truncated: true;
  originalBytes: number;
  preview: string;
}

export function toRow(record: DecodedRecord, limits: TruncationLimits = DEFAULT_LIMITS): AuditRow {
  return {
    execution_id: record.executionId,
    job_id: record.jobId,
    type: record.type,
    user_id: record.userId ?? null,
    // Raw JSON text, cast in SQL: no parse/stringify round trip here, and invalid JSON
    // fails as a data error (22P02) that parks just this record.
    data: fitJson(record.dataJson, limits),
    result: fitJson(record.resultJson, limits),
    error: record.error ? trimError(record.error, limits) : null,
    status: record.status,
    attempt: record.attempt,
    will_retry: record.willRetry === true,
    worker: record.worker,
    queued_at: new Date(record.queuedAt).toISOString(),
    started_at: new Date(record.startedAt).toISOString(),
    completed_at: new Date(record.completedAt).toISOString(),
    duration_ms: Math.max(0, Math.round(record.durationMs)),
  };
}

function fitJson(text: string | null, limits: TruncationLimits): string | null {
  if (text === null) return null;
  // Every UTF-16 unit is at most 3 UTF-8 bytes, so short strings skip the byte count.
  const bytes = text.length * 3 <= limits.jsonBytes ? text.length : Buffer.byteLength(text);
  if (bytes <= limits.jsonBytes) return text;
  const marker: TruncatedJson = { _truncated: true, originalBytes: bytes, preview: cut(text, limits.previewChars) };
  return JSON.stringify(marker);
}

function trimError(error: StoredError, limits: TruncationLimits): StoredError {
  const trimmed: StoredError = { name: String(error.name ?? 'Error'), message: cutMarked(String(error.message ?? ''), limits.errorMessageChars) };
  if (error.stack) trimmed.stack = cutMarked(String(error.stack), limits.errorStackChars);
  return trimmed;
}

function cutMarked(text: string, max: number): string {
  return text.length <= max ? text : `${cut(text, max)}… [truncated ${text.length - max} chars]`;
}

/** Cuts at `max` UTF-16 units without leaving half a surrogate pair (Postgres rejects those). */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}
