/**
 * A throwaway audit store per server test file, built on tests/helpers/db.ts: a database on
 * the shared local Postgres, or an embedded PGlite directory where no Postgres answers.
 */
import { SQL } from 'bun';
import { postgresDatabase } from '../../helpers/db.ts';

export interface TestDatabase {
  kind: 'postgres' | 'pglite';
  /** DATABASE_URL and DATA_DIR for the server process ('' and a temporary directory on PGlite). */
  env: { DATABASE_URL: string; DATA_DIR: string };
  /**
   * A client on the database, for asserting on audit rows: Postgres only. An embedded store
   * has one owner process, the server, so PGlite-path tests read rows through its API.
   */
  sql: SQL | undefined;
  drop(): Promise<void>;
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const store = await postgresDatabase(label);
  const sql = store.kind === 'postgres' ? new SQL(store.env.DATABASE_URL) : undefined;
  return {
    kind: store.kind,
    env: store.env,
    sql,
    async drop() {
      await sql?.close();
      // postgresDatabase drops with (force): servers under test may still hold pooled connections.
      await store.drop();
    },
  };
}
