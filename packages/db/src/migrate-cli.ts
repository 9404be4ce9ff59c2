/** `bun run db:migrate`: applies pending migrations to DATABASE_URL, or to the embedded store under DATA_DIR. */
import { loadConfigOrExit } from '@sluice/config';
import { errorMessage, INSUFFICIENT_PRIVILEGE, sqlState } from './classify-error.ts';
import { migrate, MIGRATE_AS_OWNER_HINT } from './migrate.ts';
import { openAuditStore, type AuditStore } from './store.ts';

const config = loadConfigOrExit(process.env);
let store: AuditStore | null = null;
try {
  store = await openAuditStore(config, { maxConnections: 1 });
  const { recreatedTable } = await migrate(store);
  if (recreatedTable) process.stdout.write('worker_jobs was gone although its migrations were recorded as applied (dropped by hand?): created it again\n');
  process.stdout.write(`migrations applied (${store.kind}: ${store.location})\n`);
} catch (error) {
  // Name the database (password redacted): postgres.js connects on the first query, so its error alone says only host and port.
  const where = store ? ` (${store.kind}: ${store.location})` : '';
  // drizzle's own message is only the statement (`Failed query: CREATE SCHEMA ...`); Postgres's reason is its cause.
  const hint = sqlState(error) === INSUFFICIENT_PRIVILEGE ? `\n${MIGRATE_AS_OWNER_HINT}` : '';
  process.stderr.write(`db:migrate failed${where}: ${errorMessage(error)}${hint}\n`);
  process.exitCode = 1;
} finally {
  await store?.close().catch(() => {});
}
