/**
 * `bun run dev`: provides Redis (container, local redis-server, or the one already on the
 * port), then runs the app with pretty logs. Ctrl+C stops what this script started, only.
 */
import { resolve } from 'node:path';
import type { Subprocess } from 'bun';
import { loadConfigOrExit } from '@sluice/config';
import { onStopSignals } from '@sluice/supervisor';
import { ensureRedis, type RedisHandle } from './infra/redis.ts';

const say = (line: string) => process.stderr.write(`[dev] ${line}\n`);
const root = resolve(import.meta.dir, '..');
const config = loadConfigOrExit(process.env);

let app: Subprocess | null = null;
let stopping = false;
function shutdown(): void {
  if (stopping) return;
  stopping = true;
  say('stopping');
  app?.kill('SIGTERM');
}
// SIGHUP: the terminal was closed. Stop the same way, so Redis is not left behind; unless
// `nohup bun run dev &` asked everything to outlive the terminal.
onStopSignals(shutdown, () => say('SIGHUP ignored: started with nohup, so dev outlives the terminal'));
// `bun run dev` killed hard (kill -9 of the package runner) leaves this script running under
// init, and no signal says so: notice the new parent and stop as if the terminal had closed.
// Only under `bun run dev` (which sets npm_lifecycle_event): `nohup bun scripts/dev.ts &` from a
// script that then exits is re-parented too, and was asked to outlive it.
if (process.env.npm_lifecycle_event === 'dev') {
  const parentPid = process.ppid;
  setInterval(() => {
    if (process.ppid !== parentPid) shutdown();
  }, 1000).unref();
}

const redisUrl = new URL(config.redis.url);
const local = ['127.0.0.1', 'localhost', '[::1]'].includes(redisUrl.hostname);
let redis: RedisHandle | null = null;
if (redisUrl.protocol === 'rediss:') {
  // The probe speaks plaintext, and a redis-server started here would too: the app talks to a TLS Redis itself.
  say('REDIS_URL uses TLS (rediss://); not starting a local Redis');
} else if (local) {
  const port = Number(redisUrl.port || 6379);
  try {
    redis = await ensureRedis({
      port,
      host: redisUrl.hostname === '[::1]' ? '::1' : '127.0.0.1',
      // Per port: runs on other ports keep their own pid file (and container).
      name: `sluice-redis-dev-${port}`,
      mode: 'reuse',
      stateDir: resolve(root, '.data'),
      // A Redis started here asks for the password REDIS_URL gives, so the app's login works.
      password: redisUrl.password ? decodeURIComponent(redisUrl.password) : undefined,
      // And has REDIS_URL's user, which the app logs in as.
      user: redisUrl.username ? decodeURIComponent(redisUrl.username) : undefined,
      log: say,
    });
  } catch (error) {
    say((error as Error).message);
    process.exit(1);
  }
} else {
  say(`REDIS_URL points at ${redisUrl.host}; not starting a local Redis`);
}

// Asked to stop while Redis was being provided: stop it, and start nothing more.
if (stopping) {
  await redis?.stop();
  process.exit(0);
}

const entry = resolve(root, 'apps/server/src/main.ts');
app = Bun.spawn([process.execPath, (await Bun.file(entry).exists()) ? entry : resolve(root, 'apps/worker/src/main.ts')], {
  stdio: ['inherit', 'inherit', 'inherit'],
  env: { ...process.env, LOG_PRETTY: process.env.LOG_PRETTY ?? 'true' },
  // A channel the app watches: if this script is killed hard (kill -9), the app sees it close and stops too.
  ipc() {},
});

const code = await app.exited;
await redis?.stop();
process.exit(stopping ? 0 : code);
