/**
 * The wire format of the audit stream. A record entry carries its payloads as separate
 * JSON fields so the writer can size and insert them without parsing them:
 *   m: every ExecutionRecord field but data/result (JSON)   d: data (JSON)   r: result (JSON, absent when none)
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

export type DecodedEntry =
  | { kind: 'record'; record: DecodedRecord }
  | { kind: 'prune'; request: PruneRequest }
  | { kind: 'invalid'; reason: string };

export function encodeRecord(record: ExecutionRecord): string[] {
  const { data, result, ...meta } = record;
  const fields = ['m', JSON.stringify(meta), 'd', JSON.stringify(data ?? null)];
  const resultJson = result === undefined ? undefined : JSON.stringify(result);
  if (resultJson !== undefined) fields.push('r', resultJson);
  return fields;
}

export function encodePrune(request: PruneRequest): string[] {
  return ['op', 'prune', 'cutoff', String(request.cutoff.getTime()), 'batch', String(request.batchSize), 'reply', request.replyTo];
}

export function decodeEntry(flat: string[] | null): DecodedEntry {
  if (!flat) return { kind: 'invalid', reason: 'entry has no fields' };
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

  const metaJson = fields.get('m');
  if (metaJson === undefined) return { kind: 'invalid', reason: 'entry has no "m" (record) field' };
  let meta: RecordMeta;
  try {
    meta = JSON.parse(metaJson);
  } catch (error) {
    return { kind: 'invalid', reason: `record is not valid JSON: ${(error as Error).message}` };
  }
  const problem = checkMeta(meta);
  if (problem) return { kind: 'invalid', reason: problem };
  return { kind: 'record', record: { ...meta, dataJson: fields.get('d') ?? null, resultJson: fields.get('r') ?? null } };
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
