/**
 * The Redis side of the audit writer: one consumer of the audit stream's group. Reads new
 * entries, takes over entries a dead writer left unacknowledged, parks records Postgres
 * rejected, and acknowledges and removes written entries. SQL lives in the writer's store.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '@sluice/observability';
import { ackAndRemove } from './stream-ack.ts';

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

    /** Moves refused records to the parked stream, with the reason and the entry they came from. */
    async park(records: ParkedRecord[]): Promise<void> {
      const pipeline = redis.pipeline();
      for (const record of records) {
        pipeline.xadd(keys.auditParked, 'MAXLEN', '~', PARKED_MAX, '*', ...record.fields, 'parkedReason', record.reason, 'sourceId', record.id);
      }
      await pipeline.exec();
      for (const record of records) log.error({ entryId: record.id, reason: record.reason, parkedIn: keys.auditParked }, 'audit record parked');
    },

    /** Acknowledges one read's entries, their rows committed, and removes them from the stream. */
    async done(ids: readonly string[]): Promise<void> {
      await ackAndRemove(redis, keys.auditStream, group, ids);
    },
  };
}

export type AuditStream = ReturnType<typeof createAuditStream>;
