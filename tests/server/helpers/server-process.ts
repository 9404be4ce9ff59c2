/** Runs the real server (`bun apps/server/src/main.ts`: HTTP + supervisor + workers) on a free port. */
import { resolve } from 'node:path';
import type { Subprocess } from 'bun';
import { Redis } from 'ioredis';
import { testEnv, uniquePrefix } from '../../helpers/env.ts';
import { freePort } from '../../helpers/ports.ts';
import { waitUntil } from './wait.ts';

export const REPO_ROOT = resolve(import.meta.dir, '../../..');
export const SERVER_MAIN = resolve(REPO_ROOT, 'apps/server/src/main.ts');
/** How long spawnServer waits for /ready; hooks that start a server allow SERVER_HOOK_TIMEOUT_MS. */
export const SERVER_START_TIMEOUT_MS = 90_000;
export const SERVER_HOOK_TIMEOUT_MS = 150_000;

export interface SpawnServerOptions {
  label: string;
  /** Added to the test env; QUEUE_PREFIX, PORT and HOST are chosen unless given here. */
  env?: Record<string, string>;
  /** Sent with every `request`; e.g. `Bearer t0ken`. */
  authorization?: string;
  /** Wait for /ready (default) or only /health (when a dependency is meant to be down). */
  waitFor?: 'ready' | 'health';
}

export interface ServerProcess {
  url: string;
  prefix: string;
  env: Record<string, string>;
  proc: Subprocess<'ignore', 'pipe', 'pipe'>;
  /** stdout + stderr so far. */
  output(): string;
  /** stdout lines that parse as JSON log records. */
  logs(): Record<string, unknown>[];
  request(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
  exited: Promise<number>;
}

export async function spawnServer(options: SpawnServerOptions): Promise<ServerProcess> {
  const port = await freePort();
  const prefix = options.env?.QUEUE_PREFIX ?? uniquePrefix(options.label);
  const env = testEnv({
    QUEUE_PREFIX: prefix,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'info',
    LOG_PRETTY: 'false',
    ENABLE_SCHEDULED_JOBS: 'false',
    ...options.env,
  });
  const proc = Bun.spawn([process.execPath, SERVER_MAIN], { cwd: REPO_ROOT, env, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  let out = '';
  let stdout = '';
  // Drained continuously so a chatty server never blocks on a full pipe.
  const drain = async (stream: ReadableStream<Uint8Array>, isStdout: boolean) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true });
      out += text;
      if (isStdout) stdout += text;
    }
  };
  const drained = Promise.all([drain(proc.stdout, true), drain(proc.stderr, false)]);
  const exited = proc.exited.then(async (code) => {
    await drained;
    return code;
  });
  let exitCode: number | null = null;
  let stopRequested = false;
  void exited.then((code) => {
    exitCode = code;
    // A server dying on its own is the failure to explain; show what it said.
    if (!stopRequested) process.stderr.write(`[server ${options.label}] exited unexpectedly with ${code}:\n${out.slice(-8000)}\n`);
  });

  const url = `http://127.0.0.1:${port}`;
  const request = (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const { json, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (options.authorization && !headers.has('authorization')) headers.set('authorization', options.authorization);
    if (json !== undefined) headers.set('content-type', 'application/json');
    return fetch(`${url}${path}`, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body });
  };

  const server: ServerProcess = {
    url,
    prefix,
    env,
    proc,
    output: () => out,
    logs: () => stdout.split('\n').flatMap((line) => {
      try {
        return line.startsWith('{') ? [JSON.parse(line) as Record<string, unknown>] : [];
      } catch {
        return [];
      }
    }),
    request,
    async stop(signal = 'SIGTERM') {
      stopRequested = true;
      if (exitCode === null) proc.kill(signal);
      const hardKill = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(hardKill);
      return code;
    },
    exited,
  };

  const probe = options.waitFor === 'health' ? '/health' : '/ready';
  // A limit, not a speed claim: on PGlite (where no Postgres runs) the server first opens a
  // fresh embedded store, 11-14 s on a loaded two-core machine, then forks its workers.
  try {
    await waitUntil(`server ${probe} on ${url}`, async () => {
      if (exitCode !== null) throw new Error(`server exited with ${exitCode}`);
      const response = await fetch(`${url}${probe}`).catch(() => null);
      return response?.status === 200;
    }, SERVER_START_TIMEOUT_MS, 100);
  } catch (error) {
    await server.stop('SIGKILL');
    throw new Error(`${(error as Error).message}\n--- server output ---\n${out}`);
  }
  return server;
}

/** Deletes every Redis key under a test prefix (jobs, schedulers, audit stream). */
export async function deletePrefix(prefix: string, redisUrl = process.env.REDIS_URL!): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true });
  await redis.connect();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  await redis.quit();
}
