/**
 * `bun run test`: typecheck, then the whole suite (`bun test`, which starts its own Redis).
 * package.json runs this with --no-env-file: values Bun loaded from .env here would be
 * inherited by `bun test` and shadow .env.test (Bun never overrides a variable already set).
 */
import { postgresUnavailable, TEST_POSTGRES_URL } from '../tests/helpers/db.ts';

const args = process.argv.slice(2);

// One line up front: which store the Postgres-path tests will use (the probe gives up after a few seconds).
try {
  const noPostgres = await postgresUnavailable();
  process.stdout.write(
    noPostgres
      ? `postgres: ${noPostgres}; the Postgres-path tests run on embedded PGlite instead, and the Postgres-only ones are skipped\n`
      : `postgres: found at ${TEST_POSTGRES_URL}; the Postgres-path tests run on it\n`,
  );
} catch (error) {
  // It answered, but with an error (a refused role, no database "test"): those tests will fail saying so.
  process.stdout.write(`postgres: ${(error as Error).message}; the Postgres-path tests will fail until that is fixed\n`);
}

const tsc = Bun.spawn(['bunx', 'tsc', '--noEmit', '-p', '.'], { stdio: ['inherit', 'inherit', 'inherit'] });
if ((await tsc.exited) !== 0) {
  process.stderr.write('typecheck failed; not running tests\n');
  process.exit(1);
}
process.stdout.write('typecheck passed\n');

const test = Bun.spawn([process.execPath, 'test', ...args], { stdio: ['inherit', 'inherit', 'inherit'] });
// Ctrl+C reaches bun test directly (same process group); wait for it to clean up.
process.on('SIGINT', () => {});
process.exit(await test.exited);
