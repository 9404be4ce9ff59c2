/**
 * The wire format of the audit stream. One entry carries the records of every job a worker
 * finished in the same event-loop turn (group commit) in ONE field:
 *   x: JSON array of ExecutionRecords, `data`/`result` already fitted to the size limits by the worker
 * One bulk string per entry keeps the XADD and, above all, the writer's XREADGROUP reply
 * cheap (ioredis parses every field as its own string), and the writer decodes an entry
 * with one JSON.parse. Entries of the first format (m<i>/d<i>/r<i> fields: metadata, data
 * and result as separate JSON) are still read, so records left in Redis by an older worker land.
 * A control entry (`op`) asks the writer, which owns the store, to do maintenance.
 */
import type { ExecutionRecord } from '@sluice/queue';
import { DEFAULT_LIMITS, fitValue, MAX_JSON_DEPTH, nestsDeeperThan, oversizedMarker, surelyFits, type TruncationLimits } from './to-row.ts';

export type RecordMeta = Omit<ExecutionRecord, 'data' | 'result'>;

export const RECORDS_FIELD = 'x';

export interface PruneRequest {
  cutoff: Date;
  batchSize: number;
  /** Redis list the writer pushes `{ deleted }` onto when done. */
  replyTo: string;
}

/** One record of an entry: decoded, or why not; `fields()` renders it alone, for parking. */
export type EntryRecord =
  | { ok: true; record: ExecutionRecord; fields: () => string[] }
  | { ok: false; reason: string; fields: () => string[] };

export type DecodedEntry =
  | { kind: 'records'; records: EntryRecord[] }
  | { kind: 'prune'; request: PruneRequest }
  | { kind: 'invalid'; reason: string };

/** One record's JSON for an entry, with oversized `data`/`result` replaced by a marker. Throws when not serialisable. */
export function encodeRecord(record: ExecutionRecord, limits: TruncationLimits = DEFAULT_LIMITS): string {
  const json = JSON.stringify(record);
  // The common case: the whole record is too short to hold an oversized payload, and (the
  // record being one level around its payloads) nests no payload too deep.
  if (surelyFits(json, limits) && !nestsDeeperThan(json, MAX_JSON_DEPTH + 1)) return json;
  const fitted: ExecutionRecord = { ...record, data: fitValue(record.data ?? null, limits) };
  if (record.result !== undefined) fitted.result = fitValue(record.result, limits);
  return JSON.stringify(fitted);
}

/** The fields of one entry holding the records `encodeRecord` produced. */
export function encodeEntry(recordJsons: readonly string[]): string[] {
  return [RECORDS_FIELD, `[${recordJsons.join(',')}]`];
}

export function encodePrune(request: PruneRequest): string[] {
  return ['op', 'prune', 'cutoff', String(request.cutoff.getTime()), 'batch', String(request.batchSize), 'reply', request.replyTo];
}

export function decodeEntry(flat: string[] | null, limits: TruncationLimits = DEFAULT_LIMITS): DecodedEntry {
  if (!flat) return { kind: 'invalid', reason: 'entry has no fields' };
  if (flat[0] === 'op') return decodeControl(flat);
  if (flat[0] === RECORDS_FIELD) return decodeRecords(flat);
  return decodeFirstFormat(flat, limits);
}

function decodeRecords(flat: string[]): DecodedEntry {
  if (flat.length !== 2) return { kind: 'invalid', reason: `a "${RECORDS_FIELD}" entry has exactly one field` };
  let parsed: unknown;
  try {
    parsed = parseStorable(flat[1]!);
  } catch (error) {
    return { kind: 'invalid', reason: `records are not valid JSON: ${(error as Error).message}` };
  }
  if (!Array.isArray(parsed) || parsed.length === 0) return { kind: 'invalid', reason: 'records are not a non-empty JSON array' };
  return {
    kind: 'records',
    records: parsed.map((record: unknown): EntryRecord => {
      const fields = () => [RECORDS_FIELD, JSON.stringify([record])];
      const problem = checkRecord(record);
      return problem ? { ok: false, reason: problem, fields } : { ok: true, record: record as ExecutionRecord, fields };
    }),
  };
}

/** The first format: record i as fields m<i> (metadata JSON), d<i> (data JSON), r<i> (result JSON, optional). */
function decodeFirstFormat(flat: string[], limits: TruncationLimits): DecodedEntry {
  const byRecord = new Map<string, { m?: string; d?: string; r?: string }>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    const kind = name[0] as 'm' | 'd' | 'r';
    if (kind !== 'm' && kind !== 'd' && kind !== 'r') return { kind: 'invalid', reason: `unknown field "${name}"` };
    const suffix = name.slice(1);
    let parts = byRecord.get(suffix);
    if (!parts) byRecord.set(suffix, (parts = {}));
    parts[kind] = flat[i + 1]!;
  }
  if (byRecord.size === 0) return { kind: 'invalid', reason: 'entry has no records' };
  return { kind: 'records', records: [...byRecord.values()].map((parts) => decodeFirstFormatRecord(parts, limits)) };
}

function decodeFirstFormatRecord(parts: { m?: string; d?: string; r?: string }, limits: TruncationLimits): EntryRecord {
  const flat = ['m', parts.m ?? '', 'd', parts.d ?? 'null', ...(parts.r === undefined ? [] : ['r', parts.r])];
  const fields = () => flat;
  if (parts.m === undefined) return { ok: false, reason: 'record has no "m" (metadata) field', fields };
  let record: ExecutionRecord;
  try {
    record = parseStorable(parts.m) as ExecutionRecord;
    const problem = checkRecord(record);
    if (problem) return { ok: false, reason: problem, fields };
    record.data = parseFitted(parts.d ?? 'null', limits);
    if (parts.r !== undefined) record.result = parseFitted(parts.r, limits);
  } catch (error) {
    return { ok: false, reason: `record is not valid JSON: ${(error as Error).message}`, fields };
  }
  return { ok: true, record, fields };
}

const parseFitted = (json: string, limits: TruncationLimits): unknown => oversizedMarker(json, limits) ?? parseStorable(json);

/**
 * JSON.parse, with the two string contents Postgres cannot store (`jsonb` and `text` refuse
 * U+0000, and `jsonb` an unpaired UTF-16 surrogate) replaced by U+FFFD, so such a record is
 * stored with a visible replacement character instead of being parked. The scan consumes
 * escaped backslashes first, so `\\u0000` (a backslash, then the text u0000) is left alone.
 * JSON.stringify writes `\u` only for control characters and lone surrogates, so the scan
 * runs on almost no entry.
 */
export function parseStorable(json: string): unknown {
  return JSON.parse(json.includes('\\u') ? json.replace(UNSTORABLE_ESCAPE, storableEscape) : json);
}

const UNSTORABLE_ESCAPE = /\\(?:\\|u0000|u([dD][89abAB][0-9a-fA-F]{2})(\\u[dD][c-fC-F][0-9a-fA-F]{2})?|u[dD][c-fC-F][0-9a-fA-F]{2})/g;

/** An escaped backslash and a surrogate pair stay; U+0000 and a lone surrogate become U+FFFD. */
function storableEscape(escape: string, high: string | undefined, low: string | undefined): string {
  return escape === '\\\\' || (high !== undefined && low !== undefined) ? escape : '\\ufffd';
}

function decodeControl(flat: string[]): DecodedEntry {
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i]!, flat[i + 1]!);
  if (fields.get('op') === 'prune') {
    const cutoff = Number(fields.get('cutoff'));
    const batchSize = Number(fields.get('batch'));
    const replyTo = fields.get('reply');
    if (!Number.isFinite(cutoff) || !Number.isInteger(batchSize) || batchSize < 1 || !replyTo) {
      return { kind: 'invalid', reason: 'malformed prune request' };
    }
    return { kind: 'prune', request: { cutoff: new Date(cutoff), batchSize, replyTo } };
  }
  return { kind: 'invalid', reason: `unknown operation "${fields.get('op')}"` };
}

/** 9999-12-31T23:59:59.999Z: the latest time a record may carry. */
const LATEST_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

function checkRecord(record: unknown): string | null {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return 'record is not an object';
  const m = record as Record<string, unknown>;
  for (const key of ['executionId', 'jobId', 'type', 'worker'] as const) {
    if (typeof m[key] !== 'string' || m[key] === '') return `record field "${key}" must be a non-empty string`;
  }
  if (m.status !== 'completed' && m.status !== 'failed') return `record field "status" must be completed or failed, got ${JSON.stringify(m.status)}`;
  for (const key of ['attempt', 'queuedAt', 'startedAt', 'completedAt', 'durationMs'] as const) {
    if (typeof m[key] !== 'number' || !Number.isFinite(m[key])) return `record field "${key}" must be a number`;
  }
  // Stored as given, a time past year 9999 printed as NaN and broke history's cursor.
  for (const key of ['queuedAt', 'startedAt', 'completedAt'] as const) {
    const at = m[key] as number;
    if (at < 0 || at > LATEST_TIME_MS) return `record field "${key}" must be a time in ms since 1970 up to the year 9999, got ${at}`;
  }
  if (m.userId !== null && m.userId !== undefined && typeof m.userId !== 'string') return 'record field "userId" must be a string or null';
  if (m.error !== undefined && m.error !== null && (typeof m.error !== 'object' || Array.isArray(m.error))) return 'record field "error" must be an object';
  return null;
}

/** How many execution records a stream entry carries (0 for control entries), whatever its format. */
export function countRecords(flat: string[] | null): number {
  const decoded = decodeEntry(flat);
  return decoded.kind === 'records' ? decoded.records.length : 0;
}
