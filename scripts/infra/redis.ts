/**
 * Provides a Redis for dev, tests and benchmarks: a Docker container when a Docker engine
 * answers, else a local `redis-server`, else a clear message on how to install one.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { docker, dockerEngineAvailable } from './docker.ts';
import { portInUse, redisAnswers, waitFor } from './ports.ts';

export interface RedisHandle {
  url: string;
  /** How it was provided; `existing` means we found it running and will not stop it. */
  via: 'docker' | 'binary' | 'existing';
  stop(): Promise<void>;
}

export interface EnsureRedisOptions {
  port: number;
  /** Loopback address to probe and bind: `127.0.0.1` (default) or `::1`. */
  host?: '127.0.0.1' | '::1';
  /** Container name, and the tag that marks a process as ours. */
  name: string;
  /** `reuse`: an answering Redis on the port is used as is (dev). `exclusive`: refuse one we did not start (tests). */
  mode: 'reuse' | 'exclusive';
  /** Where pid files live. */
  stateDir: string;
  /** How the user picks another port, for the message when this one is taken. Default: the test suite's variable. */
  portHint?: string;
  /** A password the Redis this starts asks for (REDIS_URL's), so the app's login works. Default: none. */
  password?: string;
  /** A user REDIS_URL names: the Redis this starts gets it as an ACL user with `password` and all rights. Default: none (only `default`). */
  user?: string;
  log?: (line: string) => void;
}

export const INSTALL_HINT = [
  'No Redis available: no Docker engine answers and `redis-server` is not on PATH.',
  'Install one of:',
  '  Debian/Ubuntu: sudo apt-get install -y redis-server',
  '  macOS:         brew install redis',
  '  Docker:        start Docker Desktop / the docker service and run this again',
].join('\n');

export async function ensureRedis(options: EnsureRedisOptions): Promise<RedisHandle> {
  const { port, name, mode, host = '127.0.0.1', log = () => {} } = options;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  const url = `redis://${hostInUrl}:${port}`;
  const pidFile = join(options.stateDir, `${name}.pid`);
  const logFile = join(options.stateDir, `${name}.log`);
  // Before anything starts: a redis-server whose pid file cannot be written would run on unrecorded.
  prepareStateDir(options.stateDir);

  if (await portInUse(port, host)) {
    const answers = mode === 'reuse' && (await redisAnswers(port, host));
    // A run killed without its cleanup (terminal closed, kill -9) left our redis-server behind:
    // adopt it, so this run stops it on the way out instead of leaving it forever.
    const leftover = answers ? adoptOrphan(pidFile, port) : null;
    if (leftover !== null) {
      log(`using the redis-server (pid ${leftover}) an earlier run started and did not stop; it stops with this run`);
      return {
        url,
        via: 'binary',
        async stop() {
          killOwnOrphan(pidFile, port);
          await waitFor(async () => !(await portInUse(port, host)), 5000, `redis-server (pid ${leftover}) to exit`).catch(() => {});
        },
      };
    }
    if (answers) {
      // Also one a live run started or adopted: that run stops it, not this one.
      log(`using the Redis already listening on ${port}`);
      return { url, via: 'existing', stop: async () => {} };
    }
    if (mode === 'exclusive' && killOwnOrphan(pidFile, port)) {
      await waitFor(async () => !(await portInUse(port, host)), 5000, `old ${name} to exit`);
    } else {
      throw new Error(
        mode === 'exclusive'
          ? `Port ${port} is in use by something this run did not start; refusing to use it. Stop it, or pick another port with ${options.portHint ?? 'SLUICE_TEST_REDIS_PORT'}.`
          : `Port ${port} is in use but does not answer as Redis. Stop what listens there, or set REDIS_URL to your Redis.`,
      );
    }
  }

  const acl = aclUser(options);
  if (await dockerEngineAvailable()) {
    await docker(['rm', '-f', name]);
    const auth = [
      ...(options.password ? ['--requirepass', options.password] : []),
      ...(acl ? ['--user', ...acl] : []),
    ];
    const run = await docker(['run', '-d', '--rm', '--name', name, '-p', `${hostInUrl}:${port}:6379`, 'redis:7-alpine', 'redis-server', '--save', '', '--appendonly', 'no', ...auth]);
    if (run.code !== 0) throw new Error(`docker run ${name} failed: ${run.out}`);
    await waitFor(() => redisAnswers(port, host), 15_000, `Redis container ${name}`).catch(async (error) => {
      await docker(['rm', '-f', name]);
      throw error;
    });
    log(`started Redis container ${name} on ${port}`);
    return { url, via: 'docker', stop: async () => void (await docker(['rm', '-f', name])) };
  }

  const binary = Bun.which('redis-server');
  if (!binary) throw new Error(INSTALL_HINT);
  // Of two runs that found the port free at the same moment, one starts Redis; the other uses it.
  if (!claimPidFile(pidFile)) {
    await waitFor(() => redisAnswers(port, host), 10_000, `the Redis another run is starting on ${port}`);
    log(`using the Redis another run started on ${port} at the same moment`);
    return { url, via: 'existing', stop: async () => {} };
  }
  // A password goes in through stdin (`-` reads configuration from it), not on the command line `ps` shows.
  const secrets = [
    ...(options.password ? [`requirepass ${quoteConfig(options.password)}`] : []),
    ...(acl ? [`user ${acl.map(quoteConfig).join(' ')}`] : []),
  ];
  const proc = Bun.spawn(
    [binary, ...(secrets.length > 0 ? ['-'] : []), '--port', String(port), '--bind', host, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'],
    // Own process group: Ctrl+C in the terminal must not kill Redis before the app has
    // drained its jobs and flushed its audit records; stop() ends it afterwards.
    {
      stdin: secrets.length > 0 ? new Blob([secrets.map((line) => `${line}\n`).join('')]) : 'ignore',
      // Its warnings, and why it refuses to start (`Spaces not allowed in ACL usernames`), go to a log beside the pid file.
      stdout: Bun.file(logFile),
      stderr: 'inherit',
      detached: true,
    },
  );
  try {
    // The redis-server's pid, then ours: a later run may take it over only once we are gone.
    writeFileSync(pidFile, `${proc.pid} ${process.pid}`);
    // One that exits at once (a configuration it refuses) says why in its log.
    await waitFor(async () => proc.exitCode !== null || (await redisAnswers(port, host)), 10_000, `redis-server on ${port}`);
    if (proc.exitCode !== null) {
      const said = readFileSync(logFile, 'utf8').trim().split('\n').slice(-2).map((line) => line.replace(/^\d+:\w \d+ \w+ \d+ [\d:.]+ [#*.-] /, ''));
      throw new Error(`redis-server on ${port} exited at once (code ${proc.exitCode}): ${said.join('; ')}`);
    }
  } catch (error) {
    // Nobody else would stop it: it runs in its own process group.
    proc.kill('SIGKILL');
    await proc.exited;
    rmSync(pidFile, { force: true });
    rmSync(logFile, { force: true });
    throw error;
  }
  log(`started redis-server (pid ${proc.pid}) on ${port}`);
  return {
    url,
    via: 'binary',
    async stop() {
      proc.kill('SIGTERM');
      await proc.exited;
      rmSync(pidFile, { force: true });
      rmSync(logFile, { force: true });
    },
  };
}

/** The ACL rule (after `user`) for REDIS_URL's user name, or null for none or `default` (requirepass covers it). */
function aclUser({ user, password }: EnsureRedisOptions): string[] | null {
  if (!user || user === 'default') return null;
  return [user, 'on', password ? `>${password}` : 'nopass', '~*', '&*', '+@all'];
}

/** One argument of a redis-server configuration line, double-quoted so spaces, quotes and backslashes survive. */
function quoteConfig(value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/** Creates the directory pid files live in, or says in one line why it cannot. */
function prepareStateDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'EEXIST' || code === 'ENOTDIR'
        ? `${dir} is not a directory (a file or a dangling symlink is in its place); the pid files of the Redis this starts go there. Move it away and run again.`
        : `Cannot create ${dir}, where the pid files of the Redis this starts go: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * The pid of a live redis-server our pid file names whose starter is gone (a run killed hard
 * left it behind), or null. One whose starter still runs belongs to that run, not to us.
 */
function ownOrphanPid(pidFile: string, port: number): number | null {
  try {
    const [pid, owner] = readFileSync(pidFile, 'utf8').trim().split(/\s+/).map(Number);
    // /proc, like the cmdline check below: the pid files are this machine's own.
    if (!pid || (owner && owner !== process.pid && existsSync(`/proc/${owner}`))) return null;
    // A pid used again (after a reboot) may be another redis-server: ours shows our port in its title (`redis-server 127.0.0.1:6379`).
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('redis-server') && cmdline.includes(`:${port}`) ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Makes this process the owner of a leftover's pid file, so later runs see a live owner and leave
 * the redis-server to us. The rename is the claim: of two runs adopting at once, one finds no file.
 */
function adoptOrphan(pidFile: string, port: number): number | null {
  const claim = `${pidFile}.${process.pid}`;
  try {
    renameSync(pidFile, claim);
  } catch {
    return null;
  }
  // Read again after the claim: another run may have adopted it since we last looked.
  const pid = ownOrphanPid(claim, port);
  if (pid !== null) writeFileSync(claim, `${pid} ${process.pid}`);
  renameSync(claim, pidFile);
  return pid;
}

/**
 * Takes the port's pid file for a redis-server this run is about to start (`0 <our pid>` until
 * it has a pid). False when a live run holds it: that run is starting one right now.
 */
function claimPidFile(pidFile: string): boolean {
  for (let tries = 0; tries < 2; tries++) {
    try {
      writeFileSync(pidFile, `0 ${process.pid}`, { flag: 'wx' });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(pidFile, 'utf8').trim().split(/\s+/)[1]);
      if (owner && owner !== process.pid && existsSync(`/proc/${owner}`)) return false;
      // Its run is gone, and the port was free: nothing of it is left to stop.
      rmSync(pidFile, { force: true });
    }
  }
  return false;
}

/** Stops a redis-server left behind by a run that was killed hard: ours if its pid file says so. */
function killOwnOrphan(pidFile: string, port: number): boolean {
  const pid = ownOrphanPid(pidFile, port);
  if (pid === null) return false;
  rmSync(pidFile, { force: true });
  rmSync(pidFile.replace(/\.pid$/, '.log'), { force: true });
  try {
    process.kill(pid, 'SIGTERM');
    return true;
  } catch {
    return false;
  }
}
