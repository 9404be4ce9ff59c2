/** `bun run dev` (scripts/dev.ts) beside a Redis the user already runs, as its README section says. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { testEnv, uniquePrefix } from '../helpers/env.ts';
import { connectionRecorder, freePort } from '../helpers/ports.ts';
import { REPO_ROOT } from './helpers/server-process.ts';
import { waitUntil } from './helpers/wait.ts';
import { within } from '../helpers/wait.ts';

const DEV = resolve(REPO_ROOT, 'scripts/dev.ts');
const PASSWORD = 'dev-test-secret';
const dataDir = mkdtempSync(join(tmpdir(), 'sluice-dev-test-'));
let redisPort: number;
let redisServer: ReturnType<typeof Bun.spawn>;

beforeAll(async () => {
  redisPort = await freePort();
  redisServer = Bun.spawn(['redis-server', '--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', PASSWORD], { stdout: 'ignore', stderr: 'ignore' });
  await waitUntil('the password Redis', async () => {
    const probe = new Redis({ port: redisPort, password: PASSWORD, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await probe.connect();
      return (await probe.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      probe.disconnect();
    }
  }, 10_000);
});

afterAll(async () => {
  redisServer?.kill();
  await redisServer?.exited;
  rmSync(dataDir, { recursive: true, force: true });
});

async function runDev(env: Record<string, string>) {
  const port = await freePort();
  const proc = Bun.spawn([process.execPath, DEV], {
    env: testEnv({ QUEUE_PREFIX: uniquePrefix('dev'), DATABASE_URL: '', DATA_DIR: dataDir, PORT: String(port), WORKER_COUNT: '1', LOG_PRETTY: 'false', ...env }),
    stdout: 'pipe',
    stderr: 'pipe',
  });
  let output = '';
  const decoder = new TextDecoder();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) output += decoder.decode(chunk);
  };
  void collect(proc.stdout);
  void collect(proc.stderr);
  return { proc, url: `http://127.0.0.1:${port}`, output: () => output };
}

test('a local Redis that wants a password, named with it in REDIS_URL, is used as it is', async () => {
  const dev = await runDev({ REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${redisPort}`, LOG_LEVEL: 'info' });
  try {
    await waitUntil('dev to be ready', async () => (await fetch(`${dev.url}/ready`).catch(() => null))?.status === 200 || dev.proc.exitCode !== null, 60_000);
    expect(dev.proc.exitCode).toBeNull();
    expect(dev.output()).toContain(`[dev] using the Redis already listening on ${redisPort}`);
    // The file's first run: the seconds PGlite takes to create its database are announced, not silent.
    expect(dev.output()).toContain('creating the embedded audit store; the first start takes several seconds');
  } finally {
    dev.proc.kill('SIGINT');
    expect(await dev.proc.exited).toBe(0);
  }
}, 90_000);

test('a wrong or missing password is named as a refused login, not as a Redis that is not running', async () => {
  const cli = resolve(REPO_ROOT, 'apps/cli/src/main.ts');
  for (const [url, reason] of [
    [`redis://:wrong@127.0.0.1:${redisPort}`, 'WRONGPASS'],
    [`redis://127.0.0.1:${redisPort}`, 'NOAUTH'],
  ] as const) {
    const proc = Bun.spawn([process.execPath, cli, 'add', 'echo', '--data', '{"message":"x"}'], { env: testEnv({ REDIS_URL: url }), stdout: 'pipe', stderr: 'pipe' });
    const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    expect(code).toBe(1);
    expect(stderr).toStartWith(`error: Redis at ${url.replace(':wrong@', ':***@')} refused the login (${reason}`);
    expect(stderr).toContain('put its password in REDIS_URL');
  }
}, 30_000);

test('a user Redis does not let run what Sluice needs (an ACL) is named as such, and the server says the same', async () => {
  const admin = new Redis({ port: redisPort, password: PASSWORD, lazyConnect: true, maxRetriesPerRequest: 0 });
  await admin.connect();
  await admin.call('ACL', 'SETUSER', 'limited', 'on', '>limited-pw', '~*', '-@all', '+ping');
  admin.disconnect();
  const url = `redis://limited:limited-pw@127.0.0.1:${redisPort}`;
  const expected = `Redis at redis://limited:***@127.0.0.1:${redisPort} does not let REDIS_URL's user run what Sluice needs (NOPERM`;
  const cli = Bun.spawn([process.execPath, resolve(REPO_ROOT, 'apps/cli/src/main.ts'), 'add', 'echo', '--data', '{"message":"x"}'], { env: testEnv({ REDIS_URL: url }), stdout: 'pipe', stderr: 'pipe' });
  const [cliErr, cliCode] = await Promise.all([new Response(cli.stderr).text(), cli.exited]);
  expect(cliCode).toBe(1);
  expect(cliErr).toContain(`error: ${expected}`);
  expect(cliErr).toContain('ACL SETUSER <user> on >PASSWORD ~* &* +@all');
  expect(cliErr).not.toContain('limited-pw');
  // Before: the server started, and its workers failed in a loop (or it printed NOPERM with redis-parser's stack).
  const server = Bun.spawn([process.execPath, resolve(REPO_ROOT, 'apps/server/src/main.ts')], {
    env: testEnv({ REDIS_URL: url, PORT: String(await freePort()), AUDIT_ENABLED: 'false' }),
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [serverErr, serverCode] = await Promise.all([new Response(server.stderr).text(), server.exited]);
  expect(serverCode).toBe(1);
  expect(serverErr).toContain(`sluice server: ${expected}`);
  expect(serverErr).not.toContain('    at ');
}, 30_000);

test('nothing on the port: the redis-server dev starts asks for REDIS_URL\'s password, and stops with dev', async () => {
  const port = await freePort();
  // A password with characters the redis-server configuration must quote.
  const password = 'p w"\\d';
  const dev = await runDev({ REDIS_URL: `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}` });
  try {
    await waitUntil('dev to be ready', async () => (await fetch(`${dev.url}/ready`).catch(() => null))?.status === 200 || dev.proc.exitCode !== null, 60_000);
    expect(dev.proc.exitCode).toBeNull();
    expect(dev.output()).toMatch(new RegExp(`\\[dev\\] started (redis-server \\(pid \\d+\\)|Redis container \\S+) on ${port}`));
    const anonymous = new Redis({ port, lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await anonymous.connect();
      await expect(anonymous.ping()).rejects.toThrow('NOAUTH');
    } finally {
      anonymous.disconnect();
    }
    // Not on the command line, where `ps` would show it.
    expect(Bun.spawnSync(['ps', '-eo', 'args']).stdout.toString()).not.toContain(password);
  } finally {
    dev.proc.kill('SIGINT');
    expect(await dev.proc.exited).toBe(0);
  }
  const probe = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  await expect(probe.connect()).rejects.toThrow();
  probe.disconnect();
}, 90_000);

test('something other than Redis on the port: exit 1, saying what to do', async () => {
  const recorder = await connectionRecorder();
  try {
    const dev = await runDev({ REDIS_URL: `redis://127.0.0.1:${recorder.port}` });
    expect(await dev.proc.exited).toBe(1);
    expect(dev.output()).toContain(`[dev] Port ${recorder.port} is in use but does not answer as Redis. Stop what listens there, or set REDIS_URL to your Redis.`);
  } finally {
    await recorder.close();
  }
}, 30_000);

test('a service that hangs up without answering (Postgres, an HTTP server): exit 1, saying what to do', async () => {
  // Postgres reads PING as a bad startup packet and closes; `python3 -m http.server` answers with no CRLF line and closes.
  const hangUp = createServer((socket) => socket.once('data', () => socket.end('not redis')));
  await new Promise<void>((resolve) => hangUp.listen(0, '127.0.0.1', resolve));
  const { port } = hangUp.address() as { port: number };
  try {
    const dev = await runDev({ REDIS_URL: `redis://127.0.0.1:${port}` });
    // Before: the probe waited for a line that never came, and dev hung with no output.
    const code = await Promise.race([dev.proc.exited, Bun.sleep(15_000).then(() => 'still running')]);
    if (code === 'still running') dev.proc.kill('SIGKILL');
    expect(code).toBe(1);
    expect(dev.output()).toContain(`[dev] Port ${port} is in use but does not answer as Redis. Stop what listens there, or set REDIS_URL to your Redis.`);
  } finally {
    await new Promise<void>((resolve) => hangUp.close(() => resolve()));
  }
}, 30_000);

test('nothing on the port, REDIS_URL with a user: the redis-server dev starts has that user, and the app logs in as it', async () => {
  const port = await freePort();
  const [user, password] = ['sluice', 'User Pw"1\\'];
  const dev = await runDev({ REDIS_URL: `redis://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}` });
  try {
    // Before: only the default user got the password, and the app's login failed with WRONGPASS.
    await waitUntil('dev to be ready', async () => (await fetch(`${dev.url}/ready`).catch(() => null))?.status === 200 || dev.proc.exitCode !== null, 60_000);
    expect(dev.proc.exitCode).toBeNull();
    const client = new Redis({ port, username: user, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await client.connect();
      expect(await client.call('ACL', 'WHOAMI')).toBe(user);
    } finally {
      client.disconnect();
    }
    expect(Bun.spawnSync(['ps', '-eo', 'args']).stdout.toString()).not.toContain('User Pw');
  } finally {
    dev.proc.kill('SIGINT');
    expect(await dev.proc.exited).toBe(0);
  }
}, 90_000);

test('a redis-server that refuses to start (a user name Redis does not allow) is named at once, with its reason', async () => {
  const port = await freePort();
  const dev = await runDev({ REDIS_URL: `redis://al%20ice:pw@127.0.0.1:${port}` });
  // Before: 10 s of silence, then only "did not come up within 10000 ms".
  expect(await within('dev to exit', dev.proc.exited, 8000)).toBe(1);
  expect(dev.output()).toContain(`[dev] redis-server on ${port} exited at once (code 1): `);
  expect(dev.output()).toContain('Spaces not allowed in ACL usernames');
}, 30_000);

test('REDIS_URL with rediss:// (TLS): dev neither probes nor starts a Redis, says so, and runs the app', async () => {
  const recorder = await connectionRecorder();
  try {
    // Nothing on the port, then a listener standing in for a TLS Redis (a plaintext probe gets no answer from one).
    for (const port of [await freePort(), recorder.port]) {
      const dev = await runDev({ REDIS_URL: `rediss://127.0.0.1:${port}`, AUDIT_ENABLED: 'false' });
      try {
        // Before: a plaintext redis-server started on the free port; the listener was refused as not Redis.
        await waitUntil('the app to start', () => dev.output().includes('"msg":') || dev.proc.exitCode !== null, 30_000);
        expect(dev.output()).toStartWith('[dev] REDIS_URL uses TLS (rediss://); not starting a local Redis\n');
        expect(dev.output()).not.toContain('[dev] Port');
        expect(dev.output()).not.toContain('[dev] started');
      } finally {
        dev.proc.kill('SIGINT');
        await dev.proc.exited;
      }
    }
  } finally {
    await recorder.close();
  }
}, 60_000);
