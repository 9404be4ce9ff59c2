/** A throwaway Postgres database per test file on the shared local server (trust auth). */
import { SQL } from 'bun';

const ADMIN_URL = process.env.SLUICE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  url: string;
  /** A client on the database, for asserting on audit rows. */
  sql: SQL;
  drop(): Promise<void>;
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = `sluice_${label}_${crypto.randomUUID().slice(0, 8)}`.replace(/[^a-z0-9_]/g, '_');
  const admin = new SQL(ADMIN_URL);
  await admin.unsafe(`create database ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const sql = new SQL(url.toString());
  return {
    url: url.toString(),
    sql,
    async drop() {
      await sql.close();
      // Servers under test may still hold pooled connections for a moment.
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.close();
    },
  };
}
