/** Real worker processes for tests: a Supervisor over the worker entry, or `bun apps/worker/src/main.ts`. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Subprocess } from 'bun';
import { createLogger } from '@sluice/observability';
import { Supervisor, type RestartPolicy } from '@sluice/supervisor';
import { WORKER_ENTRY } from '@sluice/worker-app';
import { testEnv } from './env.ts';
import { waitFor } from './wait.ts';

export const REPO_ROOT = resolve(import.meta.dir, '../..');
export const WORKER_MAIN = resolve(REPO_ROOT, 'apps/worker/src/main.ts');

export interface TestSupervisorOptions {
  /** Extra env for the children (at least QUEUE_PREFIX, so they serve this file's queue). */
  env: Record<string, string>;
  /** Default 1. */
  count?: number;
  /** Default 5000 ms. */
  shutdownTimeoutMs?: number;
  entry?: string;
  restartPolicy?: Partial<RestartPolicy>;
}

/** Starts the real Supervisor; call `stopSupervisor` in afterAll. */
export function startTestSupervisor(options: TestSupervisorOptions): Supervisor {
  const supervisor = new Supervisor({
    entry: options.entry ?? WORKER_ENTRY,
    count: options.count ?? 1,
    env: options.env,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? 5000,
    restartPolicy: options.restartPolicy,
    log: createLogger({ level: 'warn', pretty: false, bindings: { process: 'test-supervisor' } }),
  });
  supervisor.start();
  return supervisor;
}

/** Waits until every child has reported `ready` over IPC. */
export function waitForChildrenReady(supervisor: Supervisor, timeoutMs = 20_000) {
  return waitFor(
    'every worker process to report ready',
    () => {
      const children = supervisor.snapshot();
      return children.length > 0 && children.every((child) => child.state === 'ready') && children;
    },
    { timeoutMs },
  );
}

export async function stopSupervisor(supervisor: Supervisor | undefined): Promise<void> {
  if (supervisor) await supervisor.stop();
}

export interface WorkerMainProcess {
  proc: Subprocess<'ignore', 'pipe', 'pipe'>;
  /** Everything written to stdout/stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code once the process and its output streams have ended. */
  exited: Promise<number>;
}

/**
 * Runs `bun apps/worker/src/main.ts` (what `bun run worker` runs) with the test env plus
 * `overrides`. Unless told otherwise it gets a DATA_DIR of its own (removed after exit),
 * so its embedded audit store never meets another run's.
 */
export function spawnWorkerMain(
  overrides: Record<string, string>,
  /** `wrapper` runs before bun (`['nohup']`); `ownGroup` gives the process a process group of its own, as a shell's job has. */
  launch: { wrapper?: string[]; ownGroup?: boolean } = {},
): WorkerMainProcess {
  const dataDir = overrides.DATA_DIR ? undefined : mkdtempSync(join(tmpdir(), 'sluice-worker-data-'));
  const proc = Bun.spawn([...(launch.wrapper ?? []), process.execPath, WORKER_MAIN], {
    cwd: REPO_ROOT,
    detached: launch.ownGroup ?? false,
    env: testEnv({ ...(dataDir ? { DATA_DIR: dataDir } : {}), ...overrides }),
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const out = { stdout: '', stderr: '' };
  // Drained continuously so a chatty process never blocks on a full pipe.
  const drain = async (stream: ReadableStream<Uint8Array>, key: 'stdout' | 'stderr') => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) out[key] += decoder.decode(chunk, { stream: true });
  };
  const drained = Promise.all([drain(proc.stdout, 'stdout'), drain(proc.stderr, 'stderr')]);
  return {
    proc,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    exited: Promise.all([proc.exited, drained]).then(([code]) => {
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      return code;
    }),
  };
}

/** Kills a process (and waits for it) if a failed test left it running. */
export async function killIfRunning(proc: Subprocess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill('SIGKILL');
  await proc.exited;
}
