/**
 * The Redis side of the audit writer: one consumer of the audit stream's group. Reads new
 * entries, takes over entries a dead writer left unacknowledged, parks records Postgres
 * rejected, and acknowledges and removes written entries. SQL lives in the writer's store.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '@sluice/observability';
import { ackAndRemove, compareIds } from './stream-ack.ts';

export type StreamEntry = [id: string, fields: string[] | null];

/** A record Postgres refused, with the fields the worker wrote and why. */
export interface ParkedRecord {
  /** The stream entry it came from. */
  id: string;
  fields: string[];
  reason: string;
}

export interface AuditStreamOptions {
  /** This consumer's own connection: it blocks on XREADGROUP. Never closed here. */
  redis: Redis;
  keys: { auditStream: string; auditParked: string };
  group: string;
  consumer: string;
  log: Logger;
}

/** The parked stream keeps about this many records: it is for inspection, not a second backlog. */
const PARKED_MAX = 10_000;

export function createAuditStream({ redis, keys, group, consumer, log }: AuditStreamOptions) {
  return {
    /** Creates the group (and the stream) unless it exists. After a Redis restart that lost both, again. */
    async ensureGroup(): Promise<void> {
      try {
        // Id 0: records appended before any writer ever ran are read too.
        await redis.xgroup('CREATE', keys.auditStream, group, '0', 'MKSTREAM');
      } catch (error) {
        if (!String(error).includes('BUSYGROUP')) throw error;
      }
    },

    /** Entries no consumer has read yet, waiting up to `blockMs` for the first. */
    async readNew(count: number, blockMs: number): Promise<StreamEntry[]> {
      const reply = (await redis.call(
        'XREADGROUP', 'GROUP', group, consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', keys.auditStream, '>',
      )) as [string, StreamEntry[]][] | null;
      return reply?.[0]?.[1] ?? [];
    },

    /** Takes over entries a dead (or stuck) writer read and has not acknowledged for `idleMs`. */
    async claimStale(idleMs: number, count: number): Promise<StreamEntry[]> {
      const reply = (await redis.call(
        'XAUTOCLAIM', keys.auditStream, group, consumer, idleMs, '0-0', 'COUNT', count,
      )) as [string, StreamEntry[], string[]?];
      const entries = reply[1] ?? [];
      // Redis < 7 returns entries deleted from the stream with nil fields; drop them from the group.
      const gone = entries.filter(([, fields]) => fields === null).map(([id]) => id);
      if (gone.length > 0) await redis.xack(keys.auditStream, group, ...gone);
      const live = entries.filter(([, fields]) => fields !== null);
      if (live.length > 0) log.info({ count: live.length, consumer }, 'audit writer claimed unacknowledged records');
      return live;
    },

    /**
     * Removes consumers (other writers, named `<host>:<pid>`) that hold no entries and have
     * not read for `idleMs`: every restart adds a name, and the group would list them all for
     * good. One that holds entries stays until they are claimed; a live writer that is
     * removed is added again by its next read.
     */
    async forgetIdleConsumers(idleMs: number): Promise<void> {
      const consumers = ((await redis.xinfo('CONSUMERS', keys.auditStream, group)) as unknown[][]).map((flat) => fieldMap(flat));
      for (const info of consumers) {
        const name = String(info.get('name'));
        if (name === consumer || Number(info.get('pending')) > 0 || Number(info.get('idle')) < idleMs) continue;
        await redis.xgroup('DELCONSUMER', keys.auditStream, group, name);
        log.info({ consumer: name, idleMs: Number(info.get('idle')) }, 'audit writer removed an idle consumer from the group');
      }
    },

    /** Moves refused records to the parked stream, with the reason and the entry they came from. */
    async park(records: ParkedRecord[]): Promise<void> {
      const pipeline = redis.pipeline();
      for (const record of records) {
        pipeline.xadd(keys.auditParked, 'MAXLEN', '~', PARKED_MAX, '*', ...record.fields, 'parkedReason', record.reason, 'sourceId', record.id);
      }
      // exec() resolves even when Redis refused a command (out of memory, say): such a record
      // must not be acknowledged as if parked, so the batch fails and is delivered again.
      for (const [error] of (await pipeline.exec()) ?? []) {
        if (error) throw error;
      }
      for (const record of records) log.error({ entryId: record.id, reason: record.reason, parkedIn: keys.auditParked }, 'audit record parked');
    },

    /** Acknowledges one read's entries, their rows committed, and removes them from the stream. */
    async done(ids: readonly string[]): Promise<void> {
      await ackAndRemove(redis, keys.auditStream, group, ids);
    },
  };
}

export type AuditStream = ReturnType<typeof createAuditStream>;

/** The id of the stream's newest entry, or null when it is empty (or gone). */
export async function newestEntryId(redis: Redis, streamKey: string): Promise<string | null> {
  const [newest] = await redis.xrevrange(streamKey, '+', '-', 'COUNT', 1);
  return newest?.[0] ?? null;
}

/**
 * True once every entry up to `id` has been read by some consumer of `group`, and `consumer`
 * holds none it has not acknowledged. An entry enters its reader's pending list in the same
 * step that delivers it, so a batch this consumer has just read counts as held.
 */
export async function readAndWrittenUpTo(redis: Redis, streamKey: string, group: string, consumer: string, id: string): Promise<boolean> {
  const groups = (await redis.xinfo('GROUPS', streamKey)) as unknown[][];
  const info = groups.map((flat) => fieldMap(flat)).find((fields) => fields.get('name') === group);
  if (!info || compareIds(String(info.get('last-delivered-id')), id) < 0) return false;
  const held = (await redis.xpending(streamKey, group, '-', '+', 1, consumer)) as unknown[];
  return held.length === 0;
}

/** XINFO's flat `[name, value, ...]` reply as a map. */
function fieldMap(flat: unknown[]): Map<string, unknown> {
  const fields = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), flat[i + 1]);
  return fields;
}
