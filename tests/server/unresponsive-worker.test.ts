/**
 * A worker process that stops answering (SIGSTOP stands in for a hang or a blocked event loop)
 * stops counting as ready in /ready and sluice_worker_processes, is logged once, counts again
 * when it answers, and past the kill timeout is killed and replaced through the restart policy.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { parseSamples, sumOf } from './helpers/prometheus-text.ts';
import { deletePrefix, spawnServer, type ServerProcess } from './helpers/server-process.ts';
import { waitUntil } from './helpers/wait.ts';

setDefaultTimeout(60_000);

let server: ServerProcess;
/** Pids this file stopped, continued in afterAll whatever happened. */
const stoppedPids = new Set<number>();

beforeAll(async () => {
  server = await spawnServer({
    label: 'unresponsive',
    // Small thresholds, far enough apart that a worker can be seen unresponsive and continued before the kill.
    env: { AUDIT_ENABLED: 'false', WORKER_COUNT: '2', WORKER_HEARTBEAT_TIMEOUT: '2000', WORKER_HEARTBEAT_KILL_TIMEOUT: '10000', WORKER_QUEUE_LOCK_DURATION: '5000' },
  });
});

afterAll(async () => {
  for (const pid of stoppedPids) signal(pid, 'SIGCONT');
  if (server) expect(await server.stop()).toBe(0);
  await deletePrefix(server?.prefix ?? 'none');
});

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

interface Processes { slot: number; pid: number | null; state: string; restarts: number }

const processes = async (): Promise<Processes[]> =>
  ((await (await server.request('/api/v1/jobs/health')).json()) as { workers: { processes: Processes[] } }).workers.processes;

const ready = async () => {
  const response = await server.request('/ready');
  return { status: response.status, workers: ((await response.json()) as { checks: { workers: { status: string; up: number; total: number } } }).checks.workers };
};

const gauge = async () => {
  const samples = parseSamples(await (await server.request('/metrics')).text());
  return {
    ready: sumOf(samples, 'sluice_worker_processes', { state: 'ready' }),
    unresponsive: sumOf(samples, 'sluice_worker_processes', { state: 'unresponsive' }),
    restarts: sumOf(samples, 'sluice_worker_restarts_total'),
  };
};

const logged = (msg: string, pid: number) => server.logs().filter((line) => line.msg === msg && line.workerPid === pid);

test('both workers stopped: /ready 503 and the gauge says unresponsive, logged once each; both ready again after SIGCONT', async () => {
  const before = await waitUntil('both worker processes to be ready', async () => {
    const list = await processes();
    return list.length === 2 && list.every((p) => p.state === 'ready') && list;
  });
  const pids = before.map((p) => p.pid!);
  for (const pid of pids) {
    stoppedPids.add(pid);
    signal(pid, 'SIGSTOP');
  }

  const down = await waitUntil('/ready to report no worker up', async () => {
    const result = await ready();
    return result.status === 503 && result;
  });
  expect(down.workers).toEqual({ status: 'down', up: 0, total: 2 });
  await waitUntil('the gauge to count both unresponsive', async () => {
    const g = await gauge();
    return g.unresponsive === 2 && g.ready === 0;
  });
  // Still silent a check later: the warning is not repeated.
  await waitUntil('a later liveness check', async () => (await processes()).every((p) => p.state === 'unresponsive'));
  for (const pid of pids) {
    const lines = logged('worker process unresponsive: no heartbeat; not counted as ready', pid);
    expect(lines).toHaveLength(1);
    // What the last heartbeat said, named so: a job that started since (and blocks the loop) is not in it.
    expect(lines[0]).toMatchObject({ activeJobsAtLastHeartbeat: 0 });
    expect(lines[0]).not.toHaveProperty('activeJobs');
  }

  for (const pid of pids) {
    signal(pid, 'SIGCONT');
    stoppedPids.delete(pid);
  }
  const back = await waitUntil('/ready to count both workers again', async () => {
    const result = await ready();
    return result.status === 200 && result.workers.up === 2 && result;
  });
  expect(back.workers).toEqual({ status: 'up', up: 2, total: 2 });
  expect(await gauge()).toEqual({ ready: 2, unresponsive: 0, restarts: 0 });
  // The same processes, not replacements.
  expect((await processes()).map((p) => p.pid)).toEqual(pids);
  for (const pid of pids) expect(logged('worker process answering again', pid)).toHaveLength(1);
});

test('a worker stopped past the kill timeout is killed and replaced by a new process; the restart is counted', async () => {
  const [first, second] = await waitUntil('both worker processes to be ready', async () => {
    const list = await processes();
    return list.length === 2 && list.every((p) => p.state === 'ready') && list;
  });
  const pid = first!.pid!;
  stoppedPids.add(pid);
  signal(pid, 'SIGSTOP');

  // The other worker still serves: ready, with one up.
  await waitUntil('/ready to count one worker of two', async () => {
    const result = await ready();
    return result.status === 200 && result.workers.up === 1 && result.workers.total === 2;
  });
  const replaced = await waitUntil('slot 1 to run a new, ready process', async () => {
    const list = await processes();
    const slot = list.find((p) => p.slot === first!.slot)!;
    return slot.pid !== pid && slot.state === 'ready' && slot;
  });
  stoppedPids.delete(pid);
  expect(replaced.restarts).toBe(1);
  expect(logged('worker process still unresponsive; killing it', pid)).toHaveLength(1);
  // SIGKILL ends a stopped process too: the old one is gone.
  expect(() => process.kill(pid, 0)).toThrow();
  expect((await processes()).find((p) => p.slot === second!.slot)).toMatchObject({ pid: second!.pid, restarts: 0 });
  await waitUntil('both workers counted ready again', async () => (await ready()).workers.up === 2);
  expect(await gauge()).toEqual({ ready: 2, unresponsive: 0, restarts: 1 });

  // The replacement takes jobs.
  const submitted = await server.request('/api/v1/jobs', { method: 'POST', json: { type: 'echo', data: { message: 'after the kill' } } });
  const { id } = (await submitted.json()) as { id: string };
  await waitUntil('the job to complete', async () => ((await (await server.request(`/api/v1/jobs/${id}`)).json()) as { state: string }).state === 'completed');
});
