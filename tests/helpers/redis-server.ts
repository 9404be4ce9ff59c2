/**
 * A redis-server of a test's own, on a free port: for what the suite's shared Redis must not
 * be put through (SIGSTOP, a lowered maxmemory). Nothing is kept on disk.
 */
import type { Subprocess } from 'bun';
import { freePort } from './ports.ts';
import { waitFor } from './wait.ts';

export interface OwnRedisServer {
  url: string;
  proc: Subprocess;
  /** SIGKILL, then waits for the exit. */
  stop(): Promise<void>;
}

export async function startRedisServer(extraArgs: string[] = []): Promise<OwnRedisServer> {
  const port = await freePort();
  const proc = Bun.spawn(['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs], { stdout: 'ignore', stderr: 'inherit' });
  await waitFor('redis-server to answer', () => Bun.spawnSync(['redis-cli', '-p', String(port), 'ping']).stdout.toString().trim() === 'PONG');
  return {
    url: `redis://127.0.0.1:${port}`,
    proc,
    async stop() {
      proc.kill('SIGKILL');
      await proc.exited;
    },
  };
}
