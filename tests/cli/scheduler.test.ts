import { afterAll, describe, expect, test } from 'bun:test';
import { jobRegistry } from '@sluice/jobs';
import { builtinScheduleKey, connectRedis, QueueManager, scheduleSpecFor } from '@sluice/queue';
import { testConfig, testEnv, uniquePrefix } from '../helpers/env.ts';
import { deleteKeysUnder, runCli } from './cli.ts';

const prefix = uniquePrefix('cli-scheduler');
const env = testEnv({ QUEUE_PREFIX: prefix });
const config = testConfig({ QUEUE_PREFIX: prefix });
// Tests that start the CLI a dozen times: each run is a fresh bun process, seconds apiece on a
// loaded two-core machine. A limit, not a speed claim.
const MANY_RUNS_TIMEOUT_MS = 120_000;

/** What `setup` should register for whatever the real registry holds today. */
const builtins = Object.entries(jobRegistry)
  .filter(([type, definition]) => scheduleSpecFor(type, definition, 'production') && (definition.schedule?.enabled?.(config) ?? true))
  .map(([type]) => builtinScheduleKey(type))
  .sort();

afterAll(async () => {
  const redis = await connectRedis(process.env.REDIS_URL!, { role: 'producer' });
  await deleteKeysUnder(redis, prefix);
  await redis.quit();
});

async function listKeys(): Promise<string[]> {
  const result = await runCli(['scheduler', 'list', '--json'], env);
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout).map((s: { key: string }) => s.key).sort();
}

describe('queue:scheduler', () => {
  test('setup test registers every built-in schedule; setup again changes nothing', async () => {
    const first = await runCli(['scheduler', 'setup', 'test', '--json'], env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const result = JSON.parse(first.stdout);
    expect(result.mode).toBe('test');
    expect(result.actions.filter((a: { action: string }) => a.action === 'created').map((a: { key: string }) => a.key).sort()).toEqual(builtins);
    expect(await listKeys()).toEqual(builtins);

    const again = JSON.parse((await runCli(['scheduler', 'setup', 'test', '--json'], env)).stdout);
    expect(again.actions.filter((a: { action: string }) => a.action === 'created' || a.action === 'updated')).toEqual([]);
    expect(await listKeys()).toEqual(builtins);
  });

  test('setup production switches the same keys in place and prints a table', async () => {
    const result = await runCli(['scheduler', 'setup', 'production'], env);
    expect(result.code).toBe(0);
    if (builtins.length === 0) expect(result.stdout).toContain('nothing to set up');
    else expect(result.stdout).toStartWith('Built-in schedules (production mode)\n  KEY ');
    expect(await listKeys()).toEqual(builtins);
  });

  test('list shows queue:add schedules too; remove KEY removes one; bare remove only the built-ins', async () => {
    expect((await runCli(['add', 'echo', '--data', '{"message":"tick"}', '--every', '60000'], env)).code).toBe(0);
    const table = await runCli(['scheduler', 'list'], env);
    expect(table.stdout).toMatch(/^KEY +TYPE +REPEAT +NEXT RUN +DATA\n/);
    expect(table.stdout).toMatch(/\necho-every-60000 +echo +every 1m +\S.* +\{"message":"tick"\}\n/);

    const bare = await runCli(['scheduler', 'remove'], env);
    expect(bare.code).toBe(0);
    expect(await listKeys()).toEqual(['echo-every-60000']);

    const one = await runCli(['scheduler', 'remove', 'echo-every-60000'], env);
    expect(one).toEqual({ code: 0, stdout: 'removed 1 schedule(s): echo-every-60000\n', stderr: '' });
    expect(await listKeys()).toEqual([]);
  });

  test('remove --all removes every schedule', async () => {
    await runCli(['scheduler', 'setup', 'test'], env);
    await runCli(['add', 'echo', '--data', '{"message":"x"}', '--cron', '0 3 * * *', '--key', 'mine'], env);
    const result = await runCli(['scheduler', 'remove', '--all', '--json'], env);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).removed.sort()).toEqual([...builtins, 'mine'].sort());
    expect(await listKeys()).toEqual([]);
  });

  test('remove of an unknown key exits 1 naming it', async () => {
    const result = await runCli(['scheduler', 'remove', 'no-such-key'], env);
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'error: no schedule with key "no-such-key" (existing: none)\n' });
  });

  test('a key holding a terminal escape (saved before such keys were refused) is printed escaped, and can be removed', async () => {
    const evil = 'evil\u001b[31mRED';
    const manager = await QueueManager.open({ config, registry: jobRegistry });
    try {
      // Written past QueueManager, which now refuses the key.
      await manager.queue.upsertJobScheduler(evil, { every: 60_000 }, { name: 'echo', data: { data: { message: 'x' }, userId: null } });
    } finally {
      await manager.close();
    }
    const missing = await runCli(['scheduler', 'remove', 'no-such-key'], env);
    expect(missing).toEqual({ code: 1, stdout: '', stderr: 'error: no schedule with key "no-such-key" (existing: evil\\u001b[31mRED)\n' });
    const removed = await runCli(['scheduler', 'remove', evil], env);
    expect(removed).toEqual({ code: 0, stdout: 'removed 1 schedule(s): evil\\u001b[31mRED\n', stderr: '' });
    expect(await listKeys()).toEqual([]);
  });

  test('usage errors exit 2; help exits 0', async () => {
    const cases: [string[], string][] = [
      [['scheduler'], 'error: missing subcommand (use setup, list, remove, help)\n'],
      [['scheduler', 'start'], 'error: unknown subcommand "start" (use setup, list, remove, help)\n'],
      [['scheduler', 'setup'], 'error: setup needs a mode: test or production\n'],
      [['scheduler', 'setup', 'staging'], 'error: unknown mode "staging" (use test or production)\n'],
      [['scheduler', 'remove', 'a', '--all'], 'error: give a KEY or --all, not both\n'],
      // Before: exit 1, `no schedule with key ""`, as if it were a key to look for.
      [['scheduler', 'remove', ''], 'error: remove KEY needs a key (queue:scheduler list shows them)\n'],
      [['scheduler', 'list', '--verbose'], 'error: unknown flag --verbose\n'],
    ];
    for (const [args, stderr] of cases) expect(await runCli(args, env)).toEqual({ code: 2, stdout: '', stderr });
    for (const args of [['scheduler', 'help'], ['scheduler', '--help']]) {
      const help = await runCli(args, env);
      expect(help.code).toBe(0);
      expect(help.stdout).toStartWith('Usage: bun run queue:scheduler <subcommand>');
    }
  }, MANY_RUNS_TIMEOUT_MS);
});

describe('the CLI itself', () => {
  test('every command has --help (exit 0); an unknown command exits 2', async () => {
    for (const name of ['add', 'monitor', 'scheduler']) {
      const help = await runCli([name, '--help'], env);
      expect(help.code).toBe(0);
      expect(help.stdout).toStartWith(`Usage: bun run queue:${name}`);
    }
    const overview = await runCli(['--help'], env);
    expect(overview.code).toBe(0);
    expect(overview.stdout).toContain('queue:history');
    expect(await runCli(['frobnicate'], env)).toEqual({ code: 2, stdout: '', stderr: 'error: unknown command "frobnicate" (commands: add, monitor, scheduler, history)\n' });
    expect(await runCli(['help', 'frobnicate'], env)).toEqual({ code: 2, stdout: '', stderr: 'error: unknown command "frobnicate" (commands: add, monitor, scheduler, history)\n' });
    // The names the help lists (the package scripts) work here too.
    expect((await runCli(['queue:history', '--help'], env)).stdout).toStartWith('Usage: bun run queue:history');
    expect((await runCli(['help', 'queue:add'], env)).stdout).toStartWith('Usage: bun run queue:add');
    expect(await runCli(['queue:frobnicate'], env)).toEqual({ code: 2, stdout: '', stderr: 'error: unknown command "queue:frobnicate" (commands: add, monitor, scheduler, history)\n' });
  }, MANY_RUNS_TIMEOUT_MS);

  test('`<command> help` is its --help, and --version prints the version', async () => {
    for (const name of ['add', 'history', 'monitor']) {
      const help = await runCli([name, 'help'], env);
      expect(help).toMatchObject({ code: 0, stderr: '' });
      expect(help.stdout).toStartWith(`Usage: bun run queue:${name}`);
    }
    // Anywhere else `help` is still an argument: a job type here, and not one.
    expect(await runCli(['add', 'help', '--data', '{}'], env)).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: unknown job type "help"/) });
    const { version } = (await Bun.file(new URL('../../apps/cli/package.json', import.meta.url)).json()) as { version: string };
    for (const flag of ['--version', '-V']) {
      expect(await runCli([flag], env)).toEqual({ code: 0, stdout: `sluice ${version} (bun ${Bun.version})\n`, stderr: '' });
    }
  }, MANY_RUNS_TIMEOUT_MS);
});
