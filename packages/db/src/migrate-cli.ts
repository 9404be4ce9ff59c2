/** `bun run db:migrate`: applies pending migrations to DATABASE_URL, or to the embedded store under DATA_DIR. */
import { loadConfigOrExit } from '@sluice/config';
import { migrate } from './migrate.ts';
import { openAuditStore } from './store.ts';

const config = loadConfigOrExit(process.env);
try {
  const store = await openAuditStore(config, { maxConnections: 1 });
  try {
    await migrate(store);
    process.stdout.write(`migrations applied (${store.kind}: ${store.location})\n`);
  } finally {
    await store.close();
  }
} catch (error) {
  process.stderr.write(`db:migrate failed: ${(error as Error).message}\n`);
  process.exit(1);
}
