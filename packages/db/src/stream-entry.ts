/**
 * The wire format of the audit stream. One entry carries the records of every job a worker
 * finished in the same event-loop turn (group commit), record i as fields suffixed `i`,
 * payloads as separate JSON text so the writer can size and insert them without parsing:
 *   m<i>: every ExecutionRecord field but data/result (JSON)   d<i>: data   r<i>: result (absent when none)
 * A control entry (`op`) asks the writer, which owns the store, to do maintenance.
 */
import type { ExecutionRecord } from '@sluice/queue';

export type RecordMeta = Omit<ExecutionRecord, 'data' | 'result'>;

export interface DecodedRecord extends RecordMeta {
  dataJson: string | null;
  resultJson: string | null;
}

export interface PruneRequest {
  cutoff: Date;
  batchSize: number;
  /** Redis list the writer pushes `{ deleted }` onto when done. */
  replyTo: string;
}

/** One record of an entry: decoded, or why not, with its own fields (for parking). */
export type EntryRecord = { ok: true; record: DecodedRecord; fields: string[] } | { ok: false; reason: string; fields: string[] };

export type DecodedEntry =
  | { kind: 'records'; records: EntryRecord[] }
  | { kind: 'prune'; request: PruneRequest }
  | { kind: 'invalid'; reason: string };

/** Appends record `i`'s fields to `fields`. */
export function encodeRecord(record: ExecutionRecord, i: number, fields: string[]): void {
  const { data, result, ...meta } = record;
  fields.push(`m${i}`, JSON.stringify(meta), `d${i}`, JSON.stringify(data ?? null));
  const resultJson = result === undefined ? undefined : JSON.stringify(result);
  if (resultJson !== undefined) fields.push(`r${i}`, resultJson);
}

export function encodePrune(request: PruneRequest): string[] {
  return ['op', 'prune', 'cutoff', String(request.cutoff.getTime()), 'batch', String(request.batchSize), 'reply', request.replyTo];
}

export function decodeEntry(flat: string[] | null): DecodedEntry {
  if (!flat) return { kind: 'invalid', reason: 'entry has no fields' };
  if (flat[0] === 'op') return decodeControl(flat);
  // Group fields by record suffix: m0 d0 r0 m1 d1 ...
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
  return { kind: 'records', records: [...byRecord.values()].map(decodeRecord) };
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

function decodeRecord(parts: { m?: string; d?: string; r?: string }): EntryRecord {
  const fields = ['m', parts.m ?? '', 'd', parts.d ?? 'null', ...(parts.r === undefined ? [] : ['r', parts.r])];
  if (parts.m === undefined) return { ok: false, reason: 'record has no "m" (metadata) field', fields };
  let meta: RecordMeta;
  try {
    meta = JSON.parse(parts.m);
  } catch (error) {
    return { ok: false, reason: `record is not valid JSON: ${(error as Error).message}`, fields };
  }
  const problem = checkMeta(meta);
  if (problem) return { ok: false, reason: problem, fields };
  return { ok: true, record: { ...meta, dataJson: parts.d ?? null, resultJson: parts.r ?? null }, fields };
}

function checkMeta(meta: unknown): string | null {
  if (typeof meta !== 'object' || meta === null) return 'record is not an object';
  const m = meta as Record<string, unknown>;
  for (const key of ['executionId', 'jobId', 'type', 'worker'] as const) {
    if (typeof m[key] !== 'string' || m[key] === '') return `record field "${key}" must be a non-empty string`;
  }
  if (m.status !== 'completed' && m.status !== 'failed') return `record field "status" must be completed or failed, got ${JSON.stringify(m.status)}`;
  for (const key of ['attempt', 'queuedAt', 'startedAt', 'completedAt', 'durationMs'] as const) {
    if (typeof m[key] !== 'number' || !Number.isFinite(m[key])) return `record field "${key}" must be a number`;
  }
  if (m.userId !== null && m.userId !== undefined && typeof m.userId !== 'string') return 'record field "userId" must be a string or null';
  return null;
}
