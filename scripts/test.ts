/**
 * `bun run test`: typecheck, then the whole suite (`bun test`, which starts its own Redis).
 * package.json runs this with --no-env-file: values Bun loaded from .env here would be
 * inherited by `bun test` and shadow .env.test (Bun never overrides a variable already set).
 */
export {};
const args = process.argv.slice(2);

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
