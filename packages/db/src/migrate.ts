/** Applies the committed drizzle-kit migrations (packages/db/migrations) to an audit store. */
import { fileURLToPath } from 'node:url';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import type { AuditStore } from './store.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

/** Any fixed number: the advisory lock that keeps two starting processes from migrating at once. */
const MIGRATION_LOCK_KEY = 7_305_771_001;

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

/** Idempotent; safe to call from every process that starts (server, `bun run worker`, dev). */
export async function migrate(store: AuditStore): Promise<MigrateResult> {
  const config = { migrationsFolder: MIGRATIONS_DIR };
  if (store.driver.kind === 'pglite') {
    // One process owns a PGlite directory (see the lock in store.ts), so no race here.
    const client = store.driver.client;
    const run = () => migratePglite(drizzlePglite(client), config);
    const present = async () => ((await client.query<{ present: boolean }>(TABLE_PRESENT)).rows[0]?.present ?? false);
    return applyRecreatingDroppedTable(run, present, async () => void (await client.query(`delete from ${JOURNAL}`)));
  }
  // drizzle's migrator does not lock; a session lock on a one-connection client does.
  const connection = postgres(store.driver.url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await connection`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    const run = () => migratePostgres(drizzlePostgres(connection), config);
    const present = async () => ((await connection.unsafe<{ present: boolean }[]>(TABLE_PRESENT))[0]?.present ?? false);
    return await applyRecreatingDroppedTable(run, present, async () => void (await connection.unsafe(`delete from ${JOURNAL}`)));
  } finally {
    await connection.end({ timeout: 5 });
  }
}

/**
 * drizzle skips every migration its journal lists, so after a `drop table worker_jobs` it
 * would report success and create nothing, and records would wait in Redis for good. The
 * journal only describes this one table, so when the table is gone it is cleared and the
 * migrations run again from the first.
 */
async function applyRecreatingDroppedTable(run: () => Promise<void>, present: () => Promise<boolean>, clearJournal: () => Promise<void>): Promise<MigrateResult> {
  await run();
  if (await present()) return { recreatedTable: false };
  await clearJournal();
  await run();
  return { recreatedTable: true };
}
