/**
 * Global test setup (bunfig preload): starts an isolated Redis for the whole run on
 * SLUICE_TEST_REDIS_PORT (default 6380), refuses a port it did not start, and stops it
 * at the end, after a failure, or on Ctrl+C.
 */
import { afterAll } from 'bun:test';
import { resolve } from 'node:path';
import { ensureRedis } from '../../scripts/infra/redis.ts';

const port = Number(process.env.SLUICE_TEST_REDIS_PORT ?? 6380);
const redis = await ensureRedis({
  port,
  name: `sluice-test-redis-${port}`,
  mode: 'exclusive',
  stateDir: resolve(import.meta.dir, '../../.data'),
  log: (line) => process.stderr.write(`[test-setup] ${line}\n`),
}).catch((error: Error) => {
  process.stderr.write(`[test-setup] ${error.message}\n`);
  process.exit(1);
});

// Everything spawned by the tests (worker subprocesses, servers) inherits this.
process.env.REDIS_URL = redis.url;

let stopped = false;
async function stop(): Promise<void> {
  if (stopped) return;
  stopped = true;
  await redis.stop();
}

afterAll(stop);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void stop().finally(() => process.exit(130)));
}
