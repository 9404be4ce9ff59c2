/** Reading a store the migrations never reached: an error that names the table and the command, on both stores. */
import { afterAll, describe, expect, test } from 'bun:test';
import { AuditTableMissingError, openAuditStore } from '@sluice/db';
import { pgliteDatabase, postgresDatabase, type TestDatabase } from '../helpers/db.ts';
import { testConfig } from '../helpers/env.ts';

const databases: TestDatabase[] = [];
afterAll(async () => {
  for (const database of databases) await database.drop();
});

for (const kind of ['postgres', 'pglite'] as const) {
  describe(kind, () => {
    test('history, metrics and health reject with AuditTableMissingError naming db:migrate', async () => {
      const database = kind === 'postgres' ? await postgresDatabase('table_missing') : pgliteDatabase('table-missing');
      databases.push(database);
      const store = await openAuditStore(testConfig(database.env), { maxConnections: 1 });
      try {
        for (const read of [() => store.getJobHistory(), () => store.getJobMetrics({ windowMs: 60_000 }), () => store.getHealth()]) {
          const error = await read().then(() => null, (e: unknown) => e);
          expect(error).toBeInstanceOf(AuditTableMissingError);
          expect((error as Error).message).toBe(
            `the audit table worker_jobs does not exist in ${store.location}: apply the migrations with \`bun run db:migrate\` ` +
              '(the server and `bun run worker` apply them when they start)',
          );
        }
      } finally {
        await store.close();
      }
    }, 30_000);
  });
}
