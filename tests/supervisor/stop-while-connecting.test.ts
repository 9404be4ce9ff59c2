/**
 * A worker process still waiting for Redis (to select the URL's database index) when the stop
 * comes. It had no handlers yet, so it ignored the stop until the supervisor's hard kill, and
 * outlived a killed supervisor until Redis came back. Real Supervisor and worker process.
 */
import { afterAll, expect, test } from 'bun:test';
import type { Supervisor } from '@sluice/supervisor';
import { uniquePrefix } from '../helpers/env.ts';
import { closedPort } from '../helpers/ports.ts';
import { startTestSupervisor, stopSupervisor } from '../helpers/processes.ts';
import { waitFor, within } from '../helpers/wait.ts';

let supervisor: Supervisor | undefined;
afterAll(() => stopSupervisor(supervisor));

test('a stop while the worker process waits for Redis ends it at once with exit 0, not by the hard kill', async () => {
  const exits: Array<number | null> = [];
  supervisor = startTestSupervisor({
    env: { REDIS_URL: `redis://127.0.0.1:${await closedPort()}/2`, AUDIT_ENABLED: 'false', QUEUE_PREFIX: uniquePrefix('stop-connecting') },
    shutdownTimeoutMs: 30_000,
  });
  supervisor.on('child-exit', (_child, code) => exits.push(code));
  await waitFor('the worker process to be started', () => supervisor!.snapshot()[0]?.pid);
  // Long enough for it to reach the database selection, which waits for a Redis that is not there.
  await Bun.sleep(1500);
  await within('the supervisor to stop', supervisor.stop(), 20_000);
  // Before: SIGKILLed 35 s later (code null), the shutdown timeout plus the 5 s backstop.
  await waitFor('the exit to be reported', () => exits.length > 0);
  expect(exits).toEqual([0]);
}, 45_000);
