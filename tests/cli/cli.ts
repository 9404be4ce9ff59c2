/** Runs the real CLI as a subprocess (what `bun run queue:*` runs) and inspects Redis for a prefix. */
import { resolve } from 'node:path';
import type { Redis } from 'ioredis';

const ROOT = resolve(import.meta.dir, '../..');
const MAIN = 'apps/cli/src/main.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  const proc = startCli(args, env);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** A long-running CLI (monitor --watch) with piped output, i.e. no terminal. */
export function startCli(args: string[], env: Record<string, string>) {
  return Bun.spawn([process.execPath, MAIN, ...args], { cwd: ROOT, env, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
}

/**
 * Reads `stream` until the text so far satisfies `done`; returns that text and a function
 * that reads the rest to the end. Throws naming `what` if the stream ends first.
 */
export async function readUntil(stream: ReadableStream<Uint8Array>, what: string, done: (text: string) => boolean) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!done(text)) {
    const { value, done: ended } = await reader.read();
    if (ended) throw new Error(`output ended before ${what}; got:\n${text}`);
    text += decoder.decode(value, { stream: true });
  }
  const rest = async () => {
    let more = '';
    for (;;) {
      const { value, done: ended } = await reader.read();
      if (ended) return more;
      more += decoder.decode(value, { stream: true });
    }
  };
  return { text, rest };
}

/** Every Redis key under a BullMQ prefix: empty means nothing was ever enqueued or scheduled. */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

export async function deleteKeysUnder(redis: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(redis, prefix);
  if (keys.length > 0) await redis.del(...keys);
}

/** A port on which nothing listens (bound, then released). */
export function closedPort(): number {
  const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}
