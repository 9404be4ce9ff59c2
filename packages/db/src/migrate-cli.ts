/** `bun run db:migrate`: applies pending migrations to DATABASE_URL, or to the embedded store under DATA_DIR. */
import { loadConfigOrExit } from '@sluice/config';
import { errorMessage, INSUFFICIENT_PRIVILEGE, sqlState } from './classify-error.ts';
import { migrate, MIGRATE_AS_OWNER_HINT } from './migrate.ts';
import { AuditError } from './errors.ts';
import { openAuditStore, READER_WAIT_MS, type AuditStore } from './store.ts';

const config = loadConfigOrExit(process.env);
let store: AuditStore | null = null;
try {
  // A queue:history or queue:monitor read holding the embedded store closes it within seconds.
  store = await openAuditStore(config, {
    maxConnections: 1,
    waitForReaderMs: READER_WAIT_MS,
    onWaitForReader: (busy) =>
      process.stderr.write(
        busy.ownerRole === 'reader'
          ? `waiting up to ${READER_WAIT_MS / 1000} s for process ${busy.ownerPid} (a queue:history or queue:monitor read) to close the embedded audit store\n`
          : 'the embedded audit store is being opened by another process; waiting to see which\n',
      ),
  });
  const { recreatedTable } = await migrate(store);
  if (recreatedTable) process.stdout.write('worker_jobs was gone although its migrations were recorded as applied (dropped by hand?): created it again\n');
  process.stdout.write(`migrations applied (${store.kind}: ${store.location})\n`);
} catch (error) {
  // Name the database (password redacted): postgres.js connects on the first query, so its error alone says only host and port.
  const where = store ? ` (${store.kind}: ${store.location})` : '';
  // drizzle's own message is only the statement (`Failed query: CREATE SCHEMA ...`); Postgres's reason is its cause.
  const hint = sqlState(error) === INSUFFICIENT_PRIVILEGE ? `\n${MIGRATE_AS_OWNER_HINT}` : '';
  // Sluice's own errors say where and what to check; the cause alone would drop that.
  const message = error instanceof AuditError ? error.message : errorMessage(error);
  process.stderr.write(`db:migrate failed${where}: ${message}${hint}\n`);
  process.exitCode = 1;
} finally {
  await store?.close().catch(() => {});
}
