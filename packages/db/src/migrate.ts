/** Applies the committed drizzle-kit migrations (packages/db/migrations) to an audit store. */
import { fileURLToPath } from 'node:url';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import type { AuditStore } from './store.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

/** Any fixed number: the advisory lock that keeps two starting processes from migrating at once. */
const MIGRATION_LOCK_KEY = 7_305_771_001;

/** What to do about a migration the role may not apply (SQLSTATE 42501). */
export const MIGRATE_AS_OWNER_HINT =
  'this database role may not create the audit table: run `bun run db:migrate` once as a role that may (the database owner); a role that may only read and write worker_jobs is enough afterwards';

export interface MigrateOptions {
  /** Where the drizzle-kit migrations are. Default the committed ones, MIGRATIONS_DIR. */
  migrationsFolder?: string;
}

export interface MigrateResult {
  /**
   * worker_jobs was missing although its migrations were recorded as applied (the table was
   * dropped by hand), so the record was cleared and the migrations applied again.
   */
  recreatedTable: boolean;
}

/** The journal drizzle keeps of applied migrations. */
const JOURNAL = 'drizzle.__drizzle_migrations';
// Unqualified, like the migration's CREATE TABLE: it resolves on the connection's search_path.
const TABLE_PRESENT = `select to_regclass('worker_jobs') is not null as present`;
const JOURNAL_PRESENT = `select to_regclass('${JOURNAL}') is not null as present`;
/** When the newest migration the journal lists was generated: drizzle applies only newer ones. */
const NEWEST_APPLIED = `select max(created_at)::text as newest from ${JOURNAL}`;

/** A database query, on whichever client the store has. */
type Query = <T>(text: string) => Promise<T[]>;

/** Idempotent; safe to call from every process that starts (server, `bun run worker`, dev). */
export async function migrate(store: AuditStore, { migrationsFolder = MIGRATIONS_DIR }: MigrateOptions = {}): Promise<MigrateResult> {
  const config = { migrationsFolder };
  if (store.driver.kind === 'pglite') {
    // One process owns a PGlite directory (see the lock in store.ts), so no race here.
    const client = store.driver.client;
    const query: Query = async <T>(text: string) => (await client.query<T>(text)).rows;
    return applyPending(() => migratePglite(drizzlePglite(client), config), query, migrationsFolder);
  }
  // drizzle's migrator does not lock; a session lock on a one-connection client does.
  const connection = postgres(store.driver.url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await connection`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    const query: Query = async <T>(text: string) => (await connection.unsafe(text)) as unknown as T[];
    return await applyPending(() => migratePostgres(drizzlePostgres(connection), config), query, migrationsFolder);
  } finally {
    await connection.end({ timeout: 5 });
  }
}

/**
 * Runs drizzle's migrator when something is left to apply.
 *
 * drizzle skips every migration its journal lists, so after a `drop table worker_jobs` it
 * would report success and create nothing, and records would wait in Redis for good. The
 * journal only describes this one table, so when the table is gone it is cleared and the
 * migrations run again from the first.
 *
 * With nothing to apply, drizzle is not run at all: it starts with `CREATE SCHEMA IF NOT
 * EXISTS`, which Postgres refuses to a role without CREATE on the database even when the
 * schema exists, so a role that may only read and write the table (the owner migrated it)
 * could never start its writer.
 */
async function applyPending(run: () => Promise<void>, query: Query, migrationsFolder: string): Promise<MigrateResult> {
  const present = async () => (await query<{ present: boolean }>(TABLE_PRESENT))[0]?.present ?? false;
  if ((await upToDate(query, migrationsFolder)) && (await present())) return { recreatedTable: false };
  await run();
  if (await present()) return { recreatedTable: false };
  await query(`delete from ${JOURNAL}`);
  await run();
  return { recreatedTable: true };
}

/** True when the journal lists the newest committed migration (drizzle applies only newer ones). */
async function upToDate(query: Query, migrationsFolder: string): Promise<boolean> {
  const newestLocal = Math.max(...readMigrationFiles({ migrationsFolder }).map((m) => m.folderMillis));
  try {
    if (!(await query<{ present: boolean }>(JOURNAL_PRESENT))[0]?.present) return false;
    const newest = (await query<{ newest: string | null }>(NEWEST_APPLIED))[0]?.newest;
    return newest != null && Number(newest) >= newestLocal;
  } catch {
    // The journal is not readable by this role: let drizzle decide (and report what it cannot do).
    return false;
  }
}
