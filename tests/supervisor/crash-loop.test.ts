/** A worker entry that dies at once every time makes the supervisor give up with code 1 and say why. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Supervisor } from '@sluice/supervisor';
import { startTestSupervisor, stopSupervisor } from '../helpers/processes.ts';
import { within } from '../helpers/wait.ts';

const MAX_CRASHES = 3;
let dir: string;
let supervisor: Supervisor | undefined;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-crash-loop-'));
  writeFileSync(join(dir, 'crash.ts'), "process.stderr.write('boom: cannot start\\n');\nprocess.exit(3);\n");
  // As a worker fails on a bad setting: an uncaught error, which Bun prints above a source excerpt and the stack.
  writeFileSync(
    join(dir, 'throw.ts'),
    "function openConnection() {\n  throw new TypeError('Invalid database number in Redis URL: \"abc\"');\n}\nfunction main() { openConnection(); }\nmain();\n",
  );
}, 30_000);
afterAll(async () => {
  await stopSupervisor(supervisor);
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

test('a crash-looping child ends the supervisor with code 1 and a reason naming the crashes', async () => {
  const exits: (number | null)[] = [];
  supervisor = startTestSupervisor({
    entry: join(dir, 'crash.ts'),
    env: {},
    restartPolicy: { baseDelayMs: 10, maxDelayMs: 50, maxCrashes: MAX_CRASHES, windowMs: 60_000 },
  });
  supervisor.on('child-exit', (_child, code) => exits.push(code));

  const exit = await within('the supervisor to give up', supervisor.done, 20_000);

  expect(exit.code).toBe(1);
  expect(exit.reason).toContain(`worker 1 crashed ${MAX_CRASHES + 1} times within 60000 ms`);
  expect(exit.reason).toContain('last exit: code 3');
  expect(exit.reason).toContain('boom: cannot start');
  // It gave up after the limit instead of restarting forever.
  expect(exits).toEqual(Array(MAX_CRASHES + 1).fill(3));
  const [child] = supervisor.snapshot();
  expect(child).toMatchObject({ state: 'stopped', pid: null, restarts: MAX_CRASHES });
}, 30_000);

test('the reason keeps the error line of an uncaught throw, not just the stack frames below it', async () => {
  await stopSupervisor(supervisor);
  supervisor = startTestSupervisor({
    entry: join(dir, 'throw.ts'),
    env: {},
    restartPolicy: { baseDelayMs: 10, maxDelayMs: 50, maxCrashes: 1, windowMs: 60_000 },
  });
  const exit = await within('the supervisor to give up', supervisor.done, 20_000);
  expect(exit.code).toBe(1);
  expect(exit.reason).toContain('last output: TypeError: Invalid database number in Redis URL: "abc" | ');
}, 30_000);
