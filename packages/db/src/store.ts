/** Opens the audit store: Postgres through postgres.js when DATABASE_URL is set, else embedded PGlite. */
import { existsSync, lstatSync, mkdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { sql, type SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { MIN_READ_TIMEOUT_MS, type Config } from '@sluice/config';
import { errorMessage } from './classify-error.ts';
import { takeEmbeddedLock, type EmbeddedLock } from './embedded-lock.ts';
import { AuditError, AuditQueryFailedError, AuditStoreBusyError, AuditStoreGoneError, AuditStoreUnavailableError } from './errors.ts';
import { reading, type ReadDescription } from './reading.ts';
import { getHealth, getJobMetrics, getJobMetricsByType, type HealthQuery, type JobMetrics, type MetricsQuery, type TypeHealth } from './metrics.ts';
import { getJobHistory, type HistoryPage, type HistoryQuery } from './history.ts';
import { deleteExecutionsBefore, type PruneOptions } from './prune.ts';
import { insertExecutions, rowsOf, writeAuditRows } from './insert-executions.ts';
import type { AuditRow } from './to-row.ts';
import * as schema from './schema.ts';

export type AuditDb = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface StoreHealth {
  status: 'up' | 'down';
  latencyMs: number | null;
  error?: string;
}

/** The raw client under drizzle, for migrations and tests. */
export type StoreDriver = { kind: 'postgres'; client: postgres.Sql; url: string } | { kind: 'pglite'; client: PGlite };

export interface AuditStore {
  readonly kind: StoreDriver['kind'];
  /** Password-free description for logs: a redacted URL or the PGlite directory. */
  readonly location: string;
  /** The writer's connections (inserts, retention, the readiness ping). */
  readonly db: AuditDb;
  /**
   * The read connections (history, metrics, health), with the read timeout as Postgres's
   * statement_timeout. Ad-hoc reads belong here, where they cannot hold up the writer. The
   * same connection as `db` on the embedded store.
   */
  readonly readDb: AuditDb;
  /**
   * An ad-hoc read on the read connections, as an array of rows on either store. Values
   * come as each driver reads them: cast in SQL (`count(*)::int`) for the same types on both.
   */
  query<T extends Record<string, unknown>>(statement: SQL): Promise<T[]>;
  readonly driver: StoreDriver;
  /** Up when `worker_jobs` answers a query within `timeoutMs` (default 1000): the server is reachable and migrated. */
  ping(timeoutMs?: number): Promise<StoreHealth>;
  getJobHistory(query?: HistoryQuery): Promise<HistoryPage>;
  getJobMetrics(query: MetricsQuery): Promise<JobMetrics>;
  getJobMetricsByType(query: Omit<MetricsQuery, 'type'>): Promise<JobMetrics[]>;
  getHealth(query?: HealthQuery): Promise<TypeHealth[]>;
  /** Inserts rows, skipping execution ids already present; returns the ids actually inserted. */
  insertExecutions(rows: schema.NewWorkerJob[]): Promise<string[]>;
  /** The audit writer's batch: one COPY when every row is new and valid, else an INSERT that skips recorded ones. */
  insertAuditRows(rows: AuditRow[]): Promise<string[]>;
  /** Deletes rows created before `cutoff` in bounded batches; returns how many went. */
  deleteExecutionsBefore(cutoff: Date, options?: PruneOptions): Promise<number>;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** Connections in the writer's postgres.js pool (inserts, retention, ping). Default 5: the writer batches, its statements are short. */
  maxConnections?: number;
  /**
   * Connections in the read pool. Default 2: a metrics window over millions of rows keeps one
   * busy for seconds, and more reads at once would only share the same CPUs; further reads wait
   * for a connection instead of taking the writer's.
   */
  readConnections?: number;
  /** Postgres cancels a read running longer than this (0: never). Default `config.database.readTimeoutMs`. */
  readTimeoutMs?: number;
  /**
   * Embedded store: this process opens it for a read and closes it soon (a CLI command). The
   * lock says so, and an opener that finds it held waits instead of giving up.
   */
  reader?: boolean;
  /**
   * Embedded store held by a reader: how long to wait for it to close, in ms. Default 0 (give up
   * at once). `onWaitForReader` is told once, when the wait begins.
   */
  waitForReaderMs?: number;
  onWaitForReader?: (busy: AuditStoreBusyError) => void;
}

/** postgres.js settings both pools share. */
const POOL_DEFAULTS = {
  // Fail fast while Postgres is down; the audit writer retries with backoff.
  connect_timeout: 5,
  // postgres.js would otherwise wait up to 20 s between reconnects after an outage;
  // the audit writer paces its own retries.
  backoff: () => 0.25,
  idle_timeout: 30,
  onnotice: () => {},
} satisfies postgres.Options<{}>;

/** Where the embedded store lives, or null when `config.database.url` selects Postgres. */
export function embeddedStoreDir(config: Pick<Config, 'database'>): string | null {
  return config.database.url ? null : resolve(config.database.dataDir, 'audit');
}

/** Postgres when `config.database.url` is set, else PGlite under `config.database.dataDir`/audit. */
export async function openAuditStore(config: Pick<Config, 'database'>, options: OpenStoreOptions = {}): Promise<AuditStore> {
  const { url, dataDir } = config.database;
  const readTimeoutMs = options.readTimeoutMs ?? config.database.readTimeoutMs;
  if (readTimeoutMs !== 0 && !(Number.isInteger(readTimeoutMs) && readTimeoutMs >= MIN_READ_TIMEOUT_MS)) {
    throw new RangeError(`readTimeoutMs must be 0 (no limit) or a whole number of ms from ${MIN_READ_TIMEOUT_MS}, got ${readTimeoutMs}`);
  }
  if (url) {
    // Two pools, so reads cannot starve the writer: seven slow metric reads on one shared pool
    // of five once held up new rows for 10 s and made /ready fail its ping.
    const client = postgres(url, { ...POOL_DEFAULTS, max: options.maxConnections ?? 5, connection: { application_name: 'sluice-audit-write' } });
    const readClient = postgres(url, {
      ...POOL_DEFAULTS,
      max: options.readConnections ?? 2,
      // Set per connection at start-up, so Postgres itself cancels a runaway read: a client that
      // stops waiting (an HTTP caller, the monitor's timeout) would leave the query running.
      connection: { application_name: 'sluice-audit-read', ...(readTimeoutMs > 0 ? { statement_timeout: readTimeoutMs } : {}) },
    });
    const db = drizzlePostgres(client, { schema }) as unknown as AuditDb;
    const readDb = drizzlePostgres(readClient, { schema }) as unknown as AuditDb;
    return buildStore({ kind: 'postgres', client, url }, { db, readDb, readTimeoutMs }, redact(url), async () => {
      await Promise.all([client.end({ timeout: 5 }), readClient.end({ timeout: 5 })]);
    });
  }
  const configured = embeddedStoreDir(config)!;
  try {
    mkdirSync(configured, { recursive: true });
  } catch (error) {
    // A symlink whose target is gone (a volume not mounted) makes mkdir say only EEXIST.
    const target = danglingLink(configured);
    const reason = target
      ? `it is a symlink to ${target}, which does not exist (a volume not mounted?)`
      : `${errorMessage(error)}. Set DATA_DIR (now ${dataDir}) to a directory this user can write, or set DATABASE_URL to use Postgres`;
    throw new AuditStoreUnavailableError(configured, reason, error, 'cannot be opened');
  }
  // PGlite cannot open through a symlink; the lock goes beside the real directory, so two
  // data directories linking one store share it. Messages name the directory as configured.
  const dir = realpathSync(configured);
  const lock = await lockEmbeddedStore(resolve(dataDir), `${dir}.lock`, options);
  try {
    const client = await PGlite.create(dir).catch((error: unknown) => {
      // PGlite says only `Aborted()` or `failed to initialize properly`; say where, and what to check.
      const reason = `${errorMessage(error)}. Check that this user can write ${configured} and that it holds an embedded store; move it aside to start with an empty audit table`;
      throw new AuditStoreUnavailableError(configured, reason, error, 'could not be opened');
    });
    const db = drizzlePglite(client, { schema }) as unknown as AuditDb;
    // PGlite keeps writing into files a deleted directory no longer names; refuse instead, so
    // records stay in Redis. A new store created in its place (by `db:migrate`, or by this
    // process opening it again) has another PG_VERSION file, and a new lock file once the
    // whole data directory went.
    const opened = storeIdentity(dir);
    /** The real directory still holds the store this process opened, under its lock. */
    const intact = () => opened !== null && storeIdentity(dir) === opened && lock.held();
    /** ...and DATA_DIR still names it (a symlink pointed elsewhere names another store). */
    const gone = () => !intact() || storeIdentity(configured) !== opened;
    const assertPresent = () => {
      if (gone()) throw new AuditStoreGoneError(configured);
    };
    // One connection for everything: a read holds up the writer while it runs, and PGlite
    // does not enforce statement_timeout (no timer signals in WebAssembly), so reads run to the end.
    return buildStore({ kind: 'pglite', client }, { db, readDb: db, readTimeoutMs: 0 }, configured, async () => {
      // Closing checkpoints, writing by path: into a new store standing where this one was, it
      // would leave that store unopenable. A store that is gone is left as it is.
      try {
        if (intact()) await client.close();
      } finally {
        lock.release();
      }
    }, assertPresent);
  } catch (error) {
    lock.release();
    throw error;
  }
}

/** How long a server, `bun run worker` or `db:migrate` waits for a CLI read to close the embedded store. */
export const READER_WAIT_MS = 30_000;
/** How long a CLI read waits for another one (a `queue:monitor --watch` redraw) before it asks the server instead. */
export const READER_WAIT_FOR_READER_MS = 5000;

/** The embedded store's lock; a reader holding it (a CLI read) is waited for up to `waitForReaderMs`. */
async function lockEmbeddedStore(dataDir: string, lockFile: string, options: OpenStoreOptions): Promise<EmbeddedLock> {
  const role = options.reader ? 'reader' : 'owner';
  const waitMs = options.waitForReaderMs ?? 0;
  const started = Date.now();
  for (let told = false; ; told = true) {
    try {
      return takeEmbeddedLock(dataDir, { lockFile, role });
    } catch (error) {
      if (!(error instanceof AuditStoreBusyError) || !error.brief || waitMs <= 0) throw error;
      if (Date.now() - started >= waitMs) throw new AuditStoreBusyError(error.dataDir, error.ownerPid, error.ownerHost, error.ownerRole, waitMs);
      if (!told) options.onWaitForReader?.(error);
      await Bun.sleep(100);
    }
  }
}

interface Connections {
  db: AuditDb;
  readDb: AuditDb;
  /** The read connections' statement_timeout, for the error that reports it; 0 when none. */
  readTimeoutMs: number;
}

/** Where `path` points when it is a symlink to nothing, else null. */
function danglingLink(path: string): string | null {
  try {
    if (!lstatSync(path).isSymbolicLink() || existsSync(path)) return null;
    return resolve(dirname(path), readlinkSync(path));
  } catch {
    return null;
  }
}

/** Which PG_VERSION file is there (Postgres writes it once, at creation); null when none is. */
function storeIdentity(dir: string): string | null {
  try {
    const { dev, ino, mtimeMs } = statSync(join(dir, 'PG_VERSION'));
    return `${dev}:${ino}:${mtimeMs}`;
  } catch {
    return null;
  }
}

function buildStore(driver: StoreDriver, { db, readDb, readTimeoutMs }: Connections, location: string, close: () => Promise<void>, assertPresent = () => {}): AuditStore {
  let closed: Promise<void> | null = null;
  /** Every query first checks that the (embedded) store still exists: see openAuditStore. */
  const checked = <T>(run: () => Promise<T>) => async (): Promise<T> => {
    assertPresent();
    return run();
  };
  /** A write is checked after it commits too: one that landed in a store deleted meanwhile must not be acknowledged. */
  const written = <T>(run: () => Promise<T>) => async (): Promise<T> => {
    const result = await checked(run)();
    assertPresent();
    return result;
  };
  const read = (query: string, narrower: string): ReadDescription => ({ query, narrower, timeoutMs: readTimeoutMs });
  const windowed = 'use a shorter windowMs';
  return {
    kind: driver.kind,
    location,
    db,
    readDb,
    query: <T extends Record<string, unknown>>(statement: SQL) =>
      checked(async () => {
        const result = await reading(location, () => readDb.execute(statement), read('ad-hoc', 'narrow the query')).catch((error: unknown) => {
          throw error instanceof AuditError ? error : new AuditQueryFailedError(errorMessage(error), error);
        });
        return rowsOf<T>(result);
      })(),
    driver,
    ping: (timeoutMs = 1000) => ping(db, location, timeoutMs, assertPresent),
    getJobHistory: (query = {}) =>
      checked(() => reading(location, () => getJobHistory(readDb, query), read('history', 'filter by type, status or jobId, or give a since/until range')))(),
    getJobMetrics: (query) => checked(() => reading(location, () => getJobMetrics(readDb, query), read('metrics', `${windowed}, or ask for one type`)))(),
    getJobMetricsByType: (query) => checked(() => reading(location, () => getJobMetricsByType(readDb, query), read('metrics by type', windowed)))(),
    getHealth: (query = {}) => checked(() => reading(location, () => getHealth(readDb, query), read('health', windowed)))(),
    insertExecutions: (rows) => written(() => insertExecutions(db, rows))(),
    insertAuditRows: (rows) => written(() => writeAuditRows(db, driver, rows))(),
    deleteExecutionsBefore: (cutoff, opts) => checked(() => deleteExecutionsBefore(db, cutoff, opts))(),
    close: () => (closed ??= close()),
  };
}

async function ping(db: AuditDb, location: string, timeoutMs: number, assertPresent: () => void): Promise<StoreHealth> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    assertPresent();
    await Promise.race([
      // The table, not just the server: a database the migrations never reached cannot take rows.
      reading(location, () => db.execute(sql`select 1 from worker_jobs limit 0`)),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
    ]);
    return { status: 'up', latencyMs: Math.round((performance.now() - started) * 100) / 100 };
  } catch (error) {
    return { status: 'down', latencyMs: null, error: (error as Error)?.message ?? String(error) };
  } finally {
    clearTimeout(timer);
  }
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres';
  }
}
