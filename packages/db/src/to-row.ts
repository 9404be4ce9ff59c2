/** Fits an execution record for `worker_jobs`: oversized payloads become a marker, long errors are cut. */
import { cutText, ERROR_TEXT_LIMITS, type ExecutionRecord } from '@sluice/queue';
import type { StoredError } from './schema.ts';

/**
 * A record as the audit writer inserts it: an ExecutionRecord whose payloads and error
 * already fit. Postgres unpacks the batch's JSON into columns (see insert-executions.ts).
 */
export type AuditRow = ExecutionRecord;

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

export const DEFAULT_LIMITS: TruncationLimits = {
  jsonBytes: 64 * 1024,
  previewChars: 1024,
  errorMessageChars: ERROR_TEXT_LIMITS.messageChars,
  errorStackChars: ERROR_TEXT_LIMITS.stackChars,
};

/** Marker stored in place of an oversized or too deeply nested `data` or `result`. */
export interface TruncatedJson {
  _truncated: true;
  originalBytes: number;
  preview: string;
  /** Set when the value was replaced for its nesting, not its size. */
  nestedDeeperThan?: number;
}

/**
 * Deepest nesting of `data` or `result` stored as is. The embedded PGlite's JSON parser runs
 * out of stack at about 4,000 levels and then loses the row without an error (and breaks the
 * store); Postgres copes, but one limit keeps both stores alike.
 */
export const MAX_JSON_DEPTH = 1000;

/** Every UTF-16 unit is at most 3 UTF-8 bytes, so JSON this short cannot exceed `limits.jsonBytes`. */
export const surelyFits = (json: string, limits: TruncationLimits): boolean => json.length * 3 <= limits.jsonBytes;

/** True when `json` opens more than `max` objects or arrays inside one another. */
export function nestsDeeperThan(json: string, max: number): boolean {
  if (json.length <= 2 * max) return false; // each level takes two characters at least
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** The marker for `json` when it exceeds `limits.jsonBytes` or nests deeper than MAX_JSON_DEPTH, else null. */
export function oversizedMarker(json: string, limits: TruncationLimits): TruncatedJson | null {
  if (surelyFits(json, limits) && !nestsDeeperThan(json, MAX_JSON_DEPTH)) return null;
  const bytes = Buffer.byteLength(json);
  if (bytes > limits.jsonBytes) return { _truncated: true, originalBytes: bytes, preview: cut(json, limits.previewChars) };
  if (nestsDeeperThan(json, MAX_JSON_DEPTH)) {
    return { _truncated: true, originalBytes: bytes, preview: cut(json, limits.previewChars), nestedDeeperThan: MAX_JSON_DEPTH };
  }
  return null;
}

/** `value` itself when its JSON fits, else its marker. */
export function fitValue(value: unknown, limits: TruncationLimits): unknown {
  const json = JSON.stringify(value);
  return json === undefined ? null : (oversizedMarker(json, limits) ?? value);
}

/** Cuts an oversized error in place (records are the writer's own freshly parsed objects) and returns the record. */
export function toRow(record: ExecutionRecord, limits: TruncationLimits = DEFAULT_LIMITS): AuditRow {
  if (record.error) record.error = trimError(record.error, limits);
  return record;
}

/** Workers cut errors already (describeError); this covers records from older workers and other producers. */
function trimError(error: StoredError, limits: TruncationLimits): StoredError {
  const trimmed: StoredError = {
    name: cutText(String(error.name ?? 'Error'), ERROR_TEXT_LIMITS.nameChars),
    message: cutText(String(error.message ?? ''), limits.errorMessageChars),
  };
  if (error.stack) trimmed.stack = cutText(String(error.stack), limits.errorStackChars);
  return trimmed;
}

/** Cuts at `max` UTF-16 units without leaving half a surrogate pair (Postgres rejects those). */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}
