/**
 * Moves execution records from the Redis audit stream into `worker_jobs`.
 * Pipeline per batch: read (consumer group) -> insert (ON CONFLICT DO NOTHING) -> commit
 * -> onInserted -> XACK and remove. An entry leaves Redis only after its row committed, so a
 * crash anywhere re-delivers it, and the unique execution id turns the re-delivery into a
 * no-op. Postgres outages are waited out with backoff; records Postgres rejects are parked.
 * The stream commands (read, claim, park, acknowledge) are in audit-stream.ts.
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from '@sluice/observability';
import { errorMessage, INSUFFICIENT_PRIVILEGE, isRecordError, sqlState, UNDEFINED_TABLE } from './classify-error.ts';
import { createAuditStream, newestEntryId, readAndWrittenUpTo, type ParkedRecord, type StreamEntry } from './audit-stream.ts';
import { MAX_RECORDS_PER_ENTRY } from './audit-appender.ts';
import type { AuditStore } from './store.ts';
import { createRetentionRunner } from './retention-runner.ts';
import { decodeEntry, type PruneRequest, type RecordMeta } from './stream-entry.ts';
import { DEFAULT_LIMITS, toRow, type AuditRow, type TruncationLimits } from './to-row.ts';

export interface AuditWriterOptions {
  store: AuditStore;
  /** A connection for this writer alone: it blocks on XREADGROUP. The writer never closes it. */
  redis: Redis;
  /**
   * A non-blocking connection for `backlog()`, `parked()` and `flush()`. On the blocking one
   * each of those waits behind the XREADGROUP in flight (up to `blockMs`), and during a Redis
   * outage behind the reconnect. Default `redis`. The writer never closes it.
   */
  statusRedis?: Redis;
  /** From `sluiceKeys(prefix)`. */
  keys: { auditStream: string; auditParked: string };
  log: Logger;
  /** Consumer group shared by every writer. Default `audit-writers`. */
  group?: string;
  /** This writer's consumer name. Default `<host>:<pid>`. */
  consumer?: string;
  /** Most stream entries per read (each holds the records of one worker's event-loop turn, up to 100). Default 1000. */
  batchSize?: number;
  /**
   * Records per batch the writer aims for. Each read asks for as many entries as should hold
   * about this many records, going by the entries read so far, so that batches stay large
   * when workers finish jobs one at a time (each commit and read has a fixed cost) and
   * bounded when every entry holds 100. Default 4000 on Postgres, 1000 on PGlite (it runs on
   * the writer's own thread, so a big batch would hold up the server's requests).
   */
  batchRecords?: number;
  /** How long one read waits for new records. Default 1000 ms. */
  blockMs?: number;
  /**
   * After a read that returned fewer entries than it asked for, wait this long before reading again, so that
   * under steady load records are written in fewer, larger transactions (each commit costs
   * Postgres a WAL flush) at the price of that much extra lag. Default 100 ms.
   */
  lingerMs?: number;
  /** Records another writer read but has not acknowledged for this long are taken over. Default 30000 ms. */
  claimIdleMs?: number;
  /** How often a retention request being run is told again that it was taken on (see retention-runner.ts). Default 10000 ms. */
  retentionHeartbeatMs?: number;
  /** Consumers holding nothing that have not read for this long (writers that are gone) leave the group. Default 3600000 ms. */
  forgetConsumersIdleMs?: number;
  /**
   * A write still unanswered after this long is logged (a lock on worker_jobs, an overloaded
   * server). Default 10000 ms, past the 5 s connect timeout of an unreachable server.
   */
  slowWriteMs?: number;
  /** Backoff while the store is unreachable: doubles from `initialMs` up to `maxMs`. Default 200..5000 ms. */
  retry?: { initialMs?: number; maxMs?: number };
  /** Error text limits for every record; payload limits for first-format entries (workers fit payloads themselves). */
  limits?: Partial<TruncationLimits>;
  /**
   * Called with exactly the records this writer newly inserted, after their rows committed
   * and before their stream entries are acknowledged. Records that were already in the
   * table (a re-delivery) are not passed, so counters fed from here count each execution once.
   */
  onInserted?: (records: RecordMeta[]) => void;
}

export interface AuditWriterStats {
  inserted: number;
  /** Re-delivered records that were already in the table. */
  duplicates: number;
  parked: number;
  /** True while the store is unreachable (or refuses the writes) and records wait in Redis. */
  storeDown: boolean;
  /** While `storeDown`: why the last write failed. */
  lastError?: string;
}

export interface AuditWriter {
  /** Starts the read loop in the background. */
  start(): void;
  /**
   * Stream entries waiting in Redis (read or not): the stream length, since written entries
   * are deleted. An entry holds the records one worker finished in one event-loop turn
   * (1..100), so 0 means nothing waits and growth means the writer is behind.
   */
  backlog(): Promise<number>;
  /** Records moved to the parked stream because Postgres rejected them. */
  parked(): Promise<number>;
  stats(): AuditWriterStats;
  /**
   * Waits until every entry in the stream when the flush began has been read, by this writer
   * or another one, and what this writer read is written (the stream is shared: other
   * instances' workers go on appending, and other writers hold their own batches). False if
   * `timeoutMs` (default 10000) passed first, or once Redis has not answered for a second
   * with nothing in flight.
   */
  flush(timeoutMs?: number): Promise<boolean>;
  /**
   * Stops reading. A batch in flight gets `timeoutMs` (default 10000) to commit; after that it is
   * abandoned unacknowledged, and the next writer to start (or another running one) claims it.
   */
  stop(timeoutMs?: number): Promise<void>;
}

/** The promise's value, or null if it rejects or does not settle within `ms`. */
async function answerWithin<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise.catch(() => null), new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A stream entry read and decoded, waiting to be written with its group. */
interface DecodedStreamEntry {
  id: string;
  fields: StreamEntry[1];
  decoded: ReturnType<typeof decodeEntry>;
}

class Abandoned extends Error {
  override name = 'Abandoned';
}

export function createAuditWriter(options: AuditWriterOptions): AuditWriter {
  const { store, redis, keys, log } = options;
  const group = options.group ?? 'audit-writers';
  const consumer = options.consumer ?? `${hostname()}:${process.pid}`;
  const batchSize = options.batchSize ?? 1000;
  const batchRecords = options.batchRecords ?? (store.kind === 'pglite' ? 1000 : 4000);
  /**
   * Estimate of records per entry, which sizes the next read. It starts at the most an
   * appender puts in one entry (a backlog of full entries is the largest case) and follows
   * bigger entries at once and smaller ones by halves, so a read stays near batchRecords.
   */
  let recordsPerEntry = MAX_RECORDS_PER_ENTRY;
  const readCount = () => Math.max(1, Math.min(batchSize, Math.round(batchRecords / recordsPerEntry)));
  const blockMs = options.blockMs ?? 1000;
  const lingerMs = options.lingerMs ?? 100;
  const claimIdleMs = options.claimIdleMs ?? 30_000;
  const claimEveryMs = Math.max(200, Math.min(claimIdleMs / 2, 10_000));
  const forgetConsumersIdleMs = options.forgetConsumersIdleMs ?? 3_600_000;
  const retryInitialMs = options.retry?.initialMs ?? 200;
  const retryMaxMs = options.retry?.maxMs ?? 5000;
  const slowWriteMs = options.slowWriteMs ?? 10_000;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const stats: AuditWriterStats = { inserted: 0, duplicates: 0, parked: 0, storeDown: false };
  const stream = createAuditStream({ redis, keys, group, consumer, log });

  let running: Promise<void> | null = null;
  let stopping = false;
  let abandon = false;
  let busy = false;
  let wake: (() => void) | null = null;
  let downSince = 0;

  /** Sleeps, but wakes at once when stop() needs the loop to notice it. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = null;
        resolve();
      }
      wake = done;
    });

  async function loop(): Promise<void> {
    let lastClaimAt = 0;
    let lastForgetAt = 0;
    let redisFailures = 0;
    while (!stopping) {
      try {
        if (redisFailures > 0 || lastClaimAt === 0) await stream.ensureGroup();
        if (Date.now() - lastForgetAt >= Math.min(forgetConsumersIdleMs, 3_600_000)) {
          await stream.forgetIdleConsumers(forgetConsumersIdleMs);
          lastForgetAt = Date.now();
        }
        let entries: StreamEntry[] = [];
        if (Date.now() - lastClaimAt >= claimEveryMs) {
          entries = await stream.claimStale(claimIdleMs, readCount());
          lastClaimAt = Date.now();
        }
        const count = readCount();
        if (entries.length === 0) entries = await stream.readNew(count, blockMs);
        redisFailures = 0;
        if (entries.length === 0) continue;
        busy = true;
        try {
          const records = await processBatch(entries);
          recordsPerEntry = Math.max(1, records / entries.length, recordsPerEntry / 2);
        } finally {
          busy = false;
        }
        if (entries.length < count && lingerMs > 0) await pause(lingerMs);
      } catch (error) {
        if (error instanceof Abandoned) return;
        redisFailures++;
        if (redisFailures === 1) {
          if (errorMessage(error).includes('NOGROUP')) {
            // Redis lost the stream (a restart without persistence): records it held are gone.
            log.warn({ err: errorMessage(error) }, 'audit writer: the audit stream or its group is gone (redis restarted empty?); creating it again');
          } else {
            log.warn({ err: errorMessage(error) }, 'audit writer: redis error; records stay in the stream');
          }
        }
        await pause(backoff(redisFailures));
      }
    }
  }

  /**
   * Writes one read's entries, a group of about batchRecords records at a time, acknowledging
   * and deleting each group's entries once its rows committed; returns how many records they
   * held. A read is sized from the entries seen so far, so a backlog of fuller entries than
   * those (built up while a write waited) can hold many times batchRecords.
   */
  async function processBatch(entries: StreamEntry[]): Promise<number> {
    let total = 0;
    let group: DecodedStreamEntry[] = [];
    let groupRecords = 0;
    for (const [id, fields] of entries) {
      const decoded = decodeEntry(fields, limits);
      group.push({ id, fields, decoded });
      groupRecords += decoded.kind === 'records' ? decoded.records.length : 1;
      if (groupRecords >= batchRecords) {
        // stop() gave up waiting: the rest of the read stays pending, for the next writer to claim.
        if (abandon) throw new Abandoned();
        total += await writeGroup(group);
        group = [];
        groupRecords = 0;
      }
    }
    if (group.length > 0) {
      if (abandon) throw new Abandoned();
      total += await writeGroup(group);
    }
    return total;
  }

  /** Writes one group of decoded entries, then acknowledges and deletes them; returns how many records they held. */
  async function writeGroup(group: DecodedStreamEntry[]): Promise<number> {
    const records: { id: string; row: AuditRow; fields: () => string[] }[] = [];
    const toPark: ParkedRecord[] = [];
    const prunes: PruneRequest[] = [];
    for (const { id, fields, decoded } of group) {
      if (decoded.kind === 'records') {
        for (const item of decoded.records) {
          if (item.ok) records.push({ id, row: toRow(item.record, limits), fields: item.fields });
          else toPark.push({ id, fields: item.fields(), reason: item.reason });
        }
      } else if (decoded.kind === 'prune') {
        prunes.push(decoded.request);
      } else {
        toPark.push({ id, fields: fields ?? [], reason: decoded.reason });
      }
    }

    const recordCount = records.length + toPark.length;
    const rows = records.map((r) => r.row);
    const { inserted, rejected } = await insertAll(rows);
    stats.inserted += inserted.length;
    stats.duplicates += records.length - inserted.length - rejected.size;
    if (inserted.length > 0 && options.onInserted) {
      // Every row went in (the COPY path), or one record per inserted id, even when a batch
      // carried the same execution twice.
      const insertedIds = inserted.length === rows.length ? null : new Set(inserted);
      const fresh: RecordMeta[] = insertedIds ? rows.filter((row) => insertedIds.delete(row.executionId)) : rows;
      try {
        options.onInserted(fresh);
      } catch (error) {
        log.error({ err: error }, 'audit writer: onInserted callback threw');
      }
    }
    for (const r of records) {
      const reason = rejected.get(r.row.executionId);
      if (reason) toPark.push({ id: r.id, fields: r.fields(), reason });
    }
    if (toPark.length > 0) {
      await stream.park(toPark);
      stats.parked += toPark.length;
    }
    // Not awaited: a retention run over millions of rows must not hold up the rows behind it.
    for (const request of prunes) retention.start(request);

    await stream.done(group.map(({ id }) => id));
    return recordCount;
  }

  /** Inserts every row it can. Returns inserted ids and, per rejected execution id, why. */
  async function insertAll(rows: AuditRow[]): Promise<{ inserted: string[]; rejected: Map<string, string> }> {
    const rejected = new Map<string, string>();
    try {
      return { inserted: await untilStoreAnswers(() => store.insertAuditRows(rows)), rejected };
    } catch (error) {
      if (!isRecordError(error)) throw error;
    }
    // Some row is bad: insert one at a time so only the bad ones are parked.
    const inserted: string[] = [];
    for (const row of rows) {
      try {
        inserted.push(...(await untilStoreAnswers(() => store.insertAuditRows([row]))));
      } catch (error) {
        if (!isRecordError(error)) throw error;
        rejected.set(row.executionId, errorMessage(error));
      }
    }
    return { inserted, rejected };
  }

  /**
   * Runs one write, logging it if still unanswered after `slowWriteMs`: a statement waiting on
   * a lock fails nothing, so nothing else would say why rows stopped arriving.
   */
  async function reportingSlow<T>(attempt: () => Promise<T>): Promise<T> {
    const started = Date.now();
    const timer = setTimeout(() => {
      // During an outage each retry may wait out its connect timeout; that was reported already.
      if (stats.storeDown) return;
      log.warn({ waitingMs: Date.now() - started, store: store.location }, 'audit write still waiting for the store (a lock on worker_jobs, or an overloaded server?); records wait in redis');
    }, slowWriteMs);
    try {
      return await attempt();
    } finally {
      clearTimeout(timer);
    }
  }

  function storeAnswered(): void {
    if (!stats.storeDown) return;
    stats.storeDown = false;
    delete stats.lastError;
    log.info({ downForMs: Date.now() - downSince }, 'audit store reachable again; writing the backlog');
  }

  /** Retries `attempt` with backoff until it succeeds or fails for a record's own fault. */
  async function untilStoreAnswers<T>(attempt: () => Promise<T>): Promise<T> {
    for (let failures = 0; ; failures++) {
      try {
        const value = await reportingSlow(attempt);
        storeAnswered();
        return value;
      } catch (error) {
        if (isRecordError(error)) {
          // Refusing a record is an answer too: the store is up, whatever happens to this one.
          storeAnswered();
          throw error;
        }
        stats.lastError = errorMessage(error);
        if (!stats.storeDown) {
          stats.storeDown = true;
          downSince = Date.now();
          if (sqlState(error) === UNDEFINED_TABLE) {
            log.warn({ store: store.location }, 'audit table worker_jobs missing; records wait in redis until `bun run db:migrate` has run');
          } else if (sqlState(error) === INSUFFICIENT_PRIVILEGE) {
            // The server answers, so not an outage; but a GRANT fixes it, so the records wait rather than park.
            log.warn({ err: errorMessage(error), store: store.location }, 'audit store refuses this role its inserts; records wait in redis until it may insert into worker_jobs');
          } else {
            log.warn({ err: errorMessage(error), store: store.location }, 'audit store unreachable; records wait in redis');
          }
        }
        if (abandon) throw new Abandoned();
        await pause(backoff(failures + 1));
        if (abandon) throw new Abandoned();
      }
    }
  }

  function backoff(failures: number): number {
    const ms = Math.min(retryMaxMs, retryInitialMs * 2 ** (failures - 1));
    return ms / 2 + Math.random() * (ms / 2);
  }

  const statusRedis = options.statusRedis ?? redis;
  const retention = createRetentionRunner({ store, redis: statusRedis, log, retry: options.retry, heartbeatMs: options.retentionHeartbeatMs });
  const backlog = async () => statusRedis.xlen(keys.auditStream);

  return {
    start() {
      if (running) return;
      running = loop().catch((error) => log.fatal({ err: error }, 'audit writer stopped unexpectedly'));
      log.info({ consumer, store: store.kind }, 'audit writer started');
    },
    backlog,
    parked: async () => statusRedis.xlen(keys.auditParked),
    stats: () => ({ ...stats }),
    async flush(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      let redisDownSince = 0;
      /** The newest entry when the flush began: the last this writer may have to write. */
      let target: string | null | undefined;
      const written = async (): Promise<boolean> => {
        if ((await backlog()) === 0) return true;
        if (target === undefined) target = await newestEntryId(statusRedis, keys.auditStream);
        return target === null || readAndWrittenUpTo(statusRedis, keys.auditStream, group, consumer, target);
      };
      while (Date.now() < deadline) {
        // Bounded: a Redis that stopped answering without closing the connection would hold the read past the deadline.
        const done = await answerWithin(written(), Math.max(1, deadline - Date.now()));
        if (!busy && done === true) return true;
        // Redis unreachable and no batch in hand: what waits is in Redis, out of reach and
        // safe there, so stop rather than wait for Redis to come back. A blip of under a
        // second is waited out.
        redisDownSince = done === null ? redisDownSince || Date.now() : 0;
        if (!busy && redisDownSince && Date.now() - redisDownSince >= 1000) {
          log.warn('audit flush: redis does not answer; the backlog stays there for the next start');
          return false;
        }
        await Bun.sleep(Math.min(50, Math.max(1, deadline - Date.now())));
      }
      return false;
    },
    async stop(timeoutMs = 10_000) {
      stopping = true;
      // A retention run stops after its current DELETE and tells its job so.
      retention.stop();
      if (!running) return;
      const timer = setTimeout(() => {
        abandon = true;
        wake?.();
      }, timeoutMs);
      wake?.();
      // A read on a Redis that went away waits for it to come back, and so would the loop;
      // stop waiting a moment after abandoning. The caller's disconnect then ends the read.
      let giveUp: ReturnType<typeof setTimeout> | undefined;
      // Once the loop has ended no request can start, so the runner's queue is complete.
      await Promise.race([running.then(() => retention.idle()), new Promise<void>((resolve) => (giveUp = setTimeout(resolve, timeoutMs + 1000)))]);
      clearTimeout(timer);
      clearTimeout(giveUp);
      log.info({ ...stats }, 'audit writer stopped');
    },
  };
}
