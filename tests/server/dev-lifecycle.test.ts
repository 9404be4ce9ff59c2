/**
 * `bun run dev` (scripts/dev.ts) when runs are killed hard, overlap, or cannot keep their pid
 * files: it stops what it started or adopted, and only that. Each test runs dev from its own
 * copy of scripts/ (apps, packages and node_modules linked), so `.data/` is the test's own.
 */
import { afterAll, expect, test } from 'bun:test';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { testEnv, uniquePrefix } from '../helpers/env.ts';
import { freePort } from '../helpers/ports.ts';
import { REPO_ROOT } from './helpers/server-process.ts';
import { waitUntil } from './helpers/wait.ts';
import { portInUse, redisAnswers } from '../../scripts/infra/ports.ts';

const scratch = mkdtempSync(join(tmpdir(), 'sluice-dev-lifecycle-'));
const redisPorts: number[] = [];
const runs: DevRun[] = [];

afterAll(async () => {
  // A failed test must leave no dev run, and no redis-server on its ports, behind.
  for (const run of runs) if (run.proc.exitCode === null && run.proc.signalCode === null) run.proc.kill('SIGINT');
  await Promise.race([Promise.all(runs.map((run) => run.proc.exited)), Bun.sleep(20_000)]);
  for (const run of runs) run.proc.kill('SIGKILL');
  for (const port of redisPorts) for (const pid of redisServersOn(port)) process.kill(pid, 'SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
}, 40_000);

/** A checkout of its own: scripts copied, everything else linked. `.data` is not created. */
function checkout(): string {
  const dir = mkdtempSync(join(scratch, 'checkout-'));
  mkdirSync(join(dir, 'scripts'));
  cpSync(resolve(REPO_ROOT, 'scripts/dev.ts'), join(dir, 'scripts/dev.ts'));
  cpSync(resolve(REPO_ROOT, 'scripts/infra'), join(dir, 'scripts/infra'), { recursive: true });
  for (const name of ['apps', 'packages', 'node_modules', 'package.json']) symlinkSync(resolve(REPO_ROOT, name), join(dir, name));
  return dir;
}

async function redisPort(): Promise<number> {
  const port = await freePort();
  redisPorts.push(port);
  return port;
}

/** Pids of the redis-servers on `port`: by the process title, or the arguments while it starts. */
function redisServersOn(port: number): number[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number).filter((pid) => {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmdline.includes('redis-server') && (cmdline.includes(`:${port}`) || cmdline.includes(`--port\0${port}\0`));
    } catch {
      return false;
    }
  });
}

function alive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return false;
  }
}

/** Every process below `pid`, by the parent pids in /proc. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      parents.set(Number(entry), Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]));
    } catch {}
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of parents) if (ppid === parent) (found.push(child), walk(child));
  };
  walk(pid);
  return found;
}

interface DevRun {
  proc: ReturnType<typeof Bun.spawn>;
  url: string;
  output(): string;
  ready(): Promise<void>;
}

/** `bun scripts/dev.ts` in `dir` (or `command` instead, e.g. `bun run dev`). */
async function runDev(dir: string, env: Record<string, string>, command = [process.execPath, 'scripts/dev.ts']): Promise<DevRun> {
  const port = await freePort();
  const proc = Bun.spawn(command, {
    cwd: dir,
    env: testEnv({ QUEUE_PREFIX: uniquePrefix('dev-life'), DATABASE_URL: '', DATA_DIR: join(dir, 'store'), PORT: String(port), WORKER_COUNT: '1', LOG_PRETTY: 'false', AUDIT_ENABLED: 'false', ...env }),
    stdout: 'pipe',
    stderr: 'pipe',
  });
  let output = '';
  const decoder = new TextDecoder();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
  };
  void collect(proc.stdout as ReadableStream<Uint8Array>);
  void collect(proc.stderr as ReadableStream<Uint8Array>);
  const url = `http://127.0.0.1:${port}`;
  const run: DevRun = {
    proc,
    url,
    output: () => output,
    ready: () =>
      waitUntil(`dev to be ready:\n${output}`, async () => {
        if (proc.exitCode !== null) throw new Error(`dev exited with ${proc.exitCode}:\n${output}`);
        return (await fetch(`${url}/ready`).catch(() => null))?.status === 200;
      }, 60_000).then(() => {}),
  };
  runs.push(run);
  return run;
}

/** Kills dev.ts with SIGKILL, as a crash would, and waits for the app to notice and stop. */
async function killHard(dev: DevRun): Promise<void> {
  const below = descendants(dev.proc.pid).filter((pid) => !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('redis-server'));
  dev.proc.kill('SIGKILL');
  await dev.proc.exited;
  await waitUntil('the killed run\'s app to stop', () => !below.some(alive), 30_000);
}

/** A dev run on Redis `port` with its own store under `dir`, once it answers /ready. */
async function readyDev(dir: string, port: number, store = 'store'): Promise<DevRun> {
  const dev = await runDev(dir, { REDIS_URL: `redis://127.0.0.1:${port}`, DATA_DIR: join(dir, store) });
  await dev.ready();
  return dev;
}

/** What a run killed hard leaves: its redis-server on `port`, and its pid file naming a dead owner. */
async function leaveLeftover(dir: string, port: number): Promise<void> {
  await killHard(await readyDev(dir, port));
  expect(await redisAnswers(port)).toBe(true);
}

/** A redis-server on `port` that no dev run started. */
async function plainRedis(port: number): Promise<ReturnType<typeof Bun.spawn>> {
  const proc = Bun.spawn(['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdout: 'ignore', stderr: 'ignore' });
  await waitUntil(`a Redis on ${port}`, () => redisAnswers(port), 10_000);
  return proc;
}

async function stop(dev: DevRun): Promise<number> {
  dev.proc.kill('SIGINT');
  return dev.proc.exited;
}

/** Stops a run that only used the Redis on `port`, which must keep serving `owner`; then `owner`, which must stop it. */
async function stopUserThenOwner(user: DevRun, owner: DevRun, port: number): Promise<void> {
  expect(await stop(user)).toBe(0);
  expect(await redisAnswers(port)).toBe(true);
  expect((await fetch(`${owner.url}/ready`)).status).toBe(200);
  expect(await stop(owner)).toBe(0);
  expect(await portInUse(port)).toBe(false);
}

test('a leftover of a run killed on one port is still adopted after a run on another port', async () => {
  const dir = checkout();
  const [first, second] = [await redisPort(), await redisPort()];
  await leaveLeftover(dir, first);
  expect(await stop(await readyDev(dir, second, 'store-2'))).toBe(0);

  // Before: one pid file per checkout, which the run on the other port overwrote and removed.
  const next = await readyDev(dir, first);
  expect(next.output()).toMatch(/\[dev\] using the redis-server \(pid \d+\) an earlier run started and did not stop; it stops with this run/);
  expect(await stop(next)).toBe(0);
  expect(await portInUse(first)).toBe(false);
}, 120_000);

test('a second run beside one that adopted a leftover uses that Redis and leaves it to the adopter', async () => {
  const dir = checkout();
  const port = await redisPort();
  await leaveLeftover(dir, port);

  const adopter = await readyDev(dir, port, 'store-adopter');
  expect(adopter.output()).toContain('an earlier run started and did not stop; it stops with this run');
  const beside = await readyDev(dir, port, 'store-beside');
  // Before: the pid file still named the killed run as owner, so this run adopted it too and stopped it on exit.
  expect(beside.output()).toContain(`[dev] using the Redis already listening on ${port}`);
  await stopUserThenOwner(beside, adopter, port);
}, 150_000);

test('two runs started at the same moment on one port: one starts Redis, the other uses it, and it stops with the first', async () => {
  const dir = checkout();
  const port = await redisPort();
  const [first, second] = await Promise.all([readyDev(dir, port, 'store-a'), readyDev(dir, port, 'store-b')]);
  const outputs = [first.output(), second.output()];
  // Before: both said they started one; the second redis-server died on the taken port and its pid overwrote the live one's.
  expect(outputs.filter((output) => /\[dev\] started redis-server \(pid \d+\)/.test(output))).toHaveLength(1);
  expect(outputs.filter((output) => output.includes(`[dev] using the Redis another run started on ${port} at the same moment`) || output.includes(`[dev] using the Redis already listening on ${port}`))).toHaveLength(1);
  expect(redisServersOn(port)).toHaveLength(1);
  const [starter, user] = /started redis-server/.test(first.output()) ? [first, second] : [second, first];
  await stopUserThenOwner(user, starter, port);
}, 150_000);

test('a pid file naming another port\'s redis-server (its pid used again) is not adopted, and that Redis is left alone', async () => {
  const dir = checkout();
  const [port, otherPort] = [await redisPort(), await redisPort()];
  const other = await plainRedis(otherPort);
  try {
    const target = await plainRedis(port);
    // As a reboot would leave it: our port's pid file, a dead owner, and a pid now another port's redis-server's.
    mkdirSync(join(dir, '.data'), { recursive: true });
    writeFileSync(join(dir, '.data', `sluice-redis-dev-${port}.pid`), `${other.pid} 999999`);
    const dev = await readyDev(dir, port);
    expect(dev.output()).toContain(`[dev] using the Redis already listening on ${port}`);
    expect(await stop(dev)).toBe(0);
    expect(await redisAnswers(otherPort)).toBe(true);
    target.kill();
    await target.exited;
  } finally {
    other.kill();
    await other.exited;
  }
}, 120_000);

test('.data that is a file or a dangling symlink: one line naming it, exit 1, and no redis-server left running', async () => {
  for (const block of ['file', 'dangling symlink'] as const) {
    const dir = checkout();
    const stateDir = join(dir, '.data');
    if (block === 'file') writeFileSync(stateDir, 'x\n');
    else symlinkSync(join(dir, 'nowhere'), stateDir);
    const port = await redisPort();
    const dev = await runDev(dir, { REDIS_URL: `redis://127.0.0.1:${port}` });
    expect(await dev.proc.exited).toBe(1);
    // Before: a raw `EEXIST: file already exists, mkdir` after the redis-server had started, which then ran on unrecorded.
    expect(dev.output()).toBe(`[dev] ${stateDir} is not a directory (a file or a dangling symlink is in its place); the pid files of the Redis this starts go there. Move it away and run again.\n`);
    expect(redisServersOn(port)).toEqual([]);
  }
}, 60_000);

test('kill -9 of `bun run dev` (the package runner) stops the stack under it', async () => {
  const dir = checkout();
  const port = await redisPort();
  const dev = await runDev(dir, { REDIS_URL: `redis://127.0.0.1:${port}` }, [process.execPath, 'run', 'dev']);
  await dev.ready();
  const stack = descendants(dev.proc.pid);
  expect(stack.length).toBeGreaterThanOrEqual(3); // scripts/dev.ts, redis-server, the server (and its worker)
  expect(redisServersOn(port)).toHaveLength(1);
  dev.proc.kill('SIGKILL');
  try {
    // Before: scripts/dev.ts, redis-server, the server and its worker all ran on under init.
    await waitUntil('the stack under the killed runner to stop', () => !stack.some(alive), 30_000);
    expect(await portInUse(port)).toBe(false);
  } finally {
    for (const pid of stack.filter(alive)) process.kill(pid, 'SIGKILL');
  }
}, 90_000);

test('scripts/dev.ts started in the background by a script that then exits keeps running (nohup-style)', async () => {
  const dir = checkout();
  const port = await redisPort();
  // The script prints the background dev's pid, waits for it to be up, and exits: dev is re-parented.
  const starter = await runDev(dir, { REDIS_URL: `redis://127.0.0.1:${port}` }, ['sh', '-c', `${process.execPath} scripts/dev.ts & echo "dev pid $!"; sleep 15`]);
  await starter.ready();
  const devPid = Number(/dev pid (\d+)/.exec(starter.output())![1]);
  expect(await starter.proc.exited).toBe(0);
  try {
    // Before: the new parent read as "bun run dev was killed", and dev stopped within a second.
    await Bun.sleep(3000);
    expect(alive(devPid)).toBe(true);
    expect((await fetch(`${starter.url}/ready`)).status).toBe(200);
  } finally {
    process.kill(devPid, 'SIGINT');
    await waitUntil('the background dev to stop', () => !alive(devPid), 30_000);
  }
  expect(await portInUse(port)).toBe(false);
}, 120_000);

test('Ctrl+C while dev is still starting its redis-server stops that redis-server', async () => {
  const dir = checkout();
  const port = await redisPort();
  const dev = await runDev(dir, { REDIS_URL: `redis://127.0.0.1:${port}` });
  // The pid file is written as soon as redis-server is spawned, before dev waits for it to answer.
  await waitUntil('dev to spawn redis-server', () => existsSync(join(dir, `.data/sluice-redis-dev-${port}.pid`)), 30_000, 5);
  dev.proc.kill('SIGINT');
  // Before: no handler was installed yet, so SIGINT killed dev and its detached redis-server ran on.
  expect(await dev.proc.exited).toBe(0);
  expect(redisServersOn(port)).toEqual([]);
  expect(dev.output()).not.toContain('server listening');
}, 60_000);

test('closing the terminal (SIGHUP to the whole process group) stops everything dev started', async () => {
  const dir = checkout();
  const port = await redisPort();
  // setsid: a process group of its own, like a job in an interactive shell.
  const dev = await runDev(dir, { REDIS_URL: `redis://127.0.0.1:${port}`, LOG_LEVEL: 'info' }, ['setsid', process.execPath, 'scripts/dev.ts']);
  await dev.ready();
  const stack = descendants(dev.proc.pid);
  process.kill(-dev.proc.pid, 'SIGHUP');
  expect(await dev.proc.exited).toBe(0);
  await waitUntil('everything dev started to stop', () => !stack.some(alive), 30_000);
  expect(redisServersOn(port)).toEqual([]);
  expect(dev.output()).toContain('server stopped');
}, 90_000);

test('dev started with nohup outlives the hangup, and Ctrl+C still stops it', async () => {
  const dir = checkout();
  const port = await redisPort();
  const dev = await runDev(dir, { REDIS_URL: `redis://127.0.0.1:${port}`, LOG_LEVEL: 'info' }, ['setsid', 'nohup', process.execPath, 'scripts/dev.ts']);
  await dev.ready();
  process.kill(-dev.proc.pid, 'SIGHUP');
  await waitUntil('the hangup to be logged, or dev to exit', () => dev.output().includes('SIGHUP ignored') || dev.proc.exitCode !== null, 10_000);
  // Before: dev stopped everything, and the app, which got the hangup too, stopped on its own.
  expect(dev.proc.exitCode).toBeNull();
  expect((await fetch(`${dev.url}/ready`)).status).toBe(200);
  expect(dev.output()).not.toContain('server stopping');

  process.kill(dev.proc.pid, 'SIGINT');
  expect(await dev.proc.exited).toBe(0);
  expect(redisServersOn(port)).toEqual([]);
}, 90_000);
