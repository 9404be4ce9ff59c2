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

/** Idempotent; safe to call from every process that starts (server, `bun run worker`, dev). */
export async function migrate(store: AuditStore): Promise<void> {
  const config = { migrationsFolder: MIGRATIONS_DIR };
  if (store.driver.kind === 'pglite') {
    // One process owns a PGlite directory (see the lock in store.ts), so no race here.
    await migratePglite(drizzlePglite(store.driver.client), config);
    return;
  }
  // drizzle's migrator does not lock; a session lock on a one-connection client does.
  const connection = postgres(store.driver.url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await connection`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    await migratePostgres(drizzlePostgres(connection), config);
  } finally {
    await connection.end({ timeout: 5 });
  }
}
