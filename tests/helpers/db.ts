/**
 * Audit stores for tests, isolated per file: a uniquely named database on the local
 * Postgres (created here, dropped afterwards), or an embedded PGlite directory. Where no
 * Postgres answers, the Postgres path falls back to PGlite and says so on stderr.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';

/** The server the Postgres-path tests use; its database `test` must exist. */
export const TEST_POSTGRES_URL = process.env.SLUICE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  kind: 'postgres' | 'pglite';
  /** Env overrides that point Config (and child processes) at this store. */
  env: { DATABASE_URL: string; DATA_DIR: string };
  /** For a Postgres path that fell back to PGlite: why. */
  fallbackReason?: string;
  /** Drops the database or deletes the directory. */
  drop(): Promise<void>;
}

export function pgliteDatabase(label: string): TestDatabase {
  const dataDir = mkdtempSync(join(tmpdir(), `sluice-${label}-`));
  return {
    kind: 'pglite',
    // An empty DATABASE_URL reads as unset: the store is PGlite under DATA_DIR.
    env: { DATABASE_URL: '', DATA_DIR: dataDir },
    drop: async () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

/**
 * Errors that mean no Postgres answers at the URL (nothing listening, no such host, no
 * route, too slow to connect). Anything else (a refused role, a missing database) is a
 * Postgres that answered, and must fail the test with its own message.
 */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'CONNECT_TIMEOUT', 'ENETUNREACH', 'EHOSTUNREACH']);

function isUnreachable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNREACHABLE_CODES.has(code);
}

/** How long the probe waits for an answer: postgres.js's connect_timeout does not cover every hang (an unroutable host). */
const PROBE_TIMEOUT_MS = 5000;

let probed: Promise<string | undefined> | undefined;

/**
 * Why the Postgres-path tests cannot use a real Postgres here (no server answers at
 * TEST_POSTGRES_URL), or undefined when one answers. Probed once per process; test files
 * await it at the top to mark Postgres-only tests with `test.skipIf`.
 */
export function postgresUnavailable(): Promise<string | undefined> {
  probed ??= (async () => {
    const probe = postgres(TEST_POSTGRES_URL, { max: 1, connect_timeout: 3, onnotice: () => {} });
    let timer: Timer | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' })), PROBE_TIMEOUT_MS);
    });
    try {
      await Promise.race([probe`select 1`, timedOut]);
      return undefined;
    } catch (error) {
      if (isUnreachable(error)) return `no Postgres at ${TEST_POSTGRES_URL} (${(error as Error).message})`;
      throw new Error(`Postgres at ${TEST_POSTGRES_URL} answered with an error: ${(error as Error).message}`, { cause: error });
    } finally {
      clearTimeout(timer);
      void probe.end({ timeout: 1 }).catch(() => {});
    }
  })();
  return probed;
}

/** A fresh database on the local Postgres, or PGlite (announced on stderr) when none answers. */
export async function postgresDatabase(label: string): Promise<TestDatabase> {
  const unavailable = await postgresUnavailable();
  if (unavailable) {
    process.stderr.write(`[test-db] ${label}: ${unavailable}; using embedded PGlite for the Postgres-path tests\n`);
    return { ...pgliteDatabase(label), fallbackReason: unavailable };
  }
  const admin = postgres(TEST_POSTGRES_URL, { max: 1, connect_timeout: 3, onnotice: () => {} });
  const name = `sluice_${label.replace(/\W/g, '_')}_${crypto.randomUUID().slice(0, 8)}`.toLowerCase();
  try {
    await admin.unsafe(`create database "${name}"`);
  } catch (error) {
    // Postgres answered the probe: a refusal here (a role without CREATEDB, a missing
    // database "test") is a broken setup to fix, not a reason to test something else.
    await admin.end({ timeout: 1 }).catch(() => {});
    throw new Error(`cannot create a test database on ${TEST_POSTGRES_URL}: ${(error as Error).message}`, { cause: error });
  }
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    kind: 'postgres',
    env: { DATABASE_URL: url.toString(), DATA_DIR: join(tmpdir(), 'sluice-unused') },
    async drop() {
      try {
        await admin.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin.end({ timeout: 1 });
      }
    },
  };
}

/**
 * Holds ACCESS EXCLUSIVE on worker_jobs from a session of its own until `release()`: reads
 * and writes wait on it, whatever the machine's speed.
 */
export async function lockWorkerJobs(url: string): Promise<{ release(): Promise<void> }> {
  // postgres('') would quietly connect to localhost:5432: a PGlite store has no URL to lock through.
  if (!url) throw new Error('lockWorkerJobs needs a Postgres URL; this test database is not on Postgres');
  const locker = postgres(url, { max: 1, onnotice: () => {} });
  let release!: () => void;
  let locked!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const holding = locker.begin(async (tx) => {
    await tx`lock table worker_jobs in access exclusive mode`;
    locked();
    await released;
  });
  await isLocked;
  return {
    async release() {
      release();
      await holding;
      await locker.end();
    },
  };
}
