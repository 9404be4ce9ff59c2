import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { jobRegistry } from '@sluice/jobs';
import { QueueManager } from '@sluice/queue';
import { testConfig, testEnv, uniquePrefix } from '../helpers/env.ts';
import { closedPort, readUntil, runCli, startCli } from './cli.ts';

const prefix = uniquePrefix('cli-monitor');
const env = testEnv({ QUEUE_PREFIX: prefix });
let queue: QueueManager<typeof jobRegistry>;
const ids: Record<string, string> = {};
// Twelve hours from now, so the schedule's next run never comes before the 60 s delayed job.
const NIGHTLY = `0 ${(new Date().getUTCHours() + 12) % 24} * * *`;

beforeAll(async () => {
  queue = await QueueManager.open({ config: testConfig({ QUEUE_PREFIX: prefix }), registry: jobRegistry });
  ids.low = (await queue.submit('echo', { message: 'low' }, { priority: 'low' })).id;
  ids.critical = (await queue.submit('echo', { message: 'critical' }, { priority: 'critical' })).id;
  ids.third = (await queue.submit('echo', { message: 'third' })).id;
  ids.delayed = (await queue.submit('echo', { message: 'later' }, { delayMs: 60_000 })).id;
  await queue.scheduleCron('echo', { pattern: NIGHTLY, tz: 'UTC' }, { message: 'nightly' }, 'nightly');
});
afterAll(async () => {
  await queue.removeCron('nightly');
  await queue.queue.obliterate({ force: true });
  await queue.close();
});

describe('queue:monitor', () => {
  test('--json prints one object with counts, next jobs in run order, schedules, paused and redis', async () => {
    const result = await runCli(['monitor', '--json'], env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const snapshot = JSON.parse(result.stdout);
    expect(snapshot.counts).toEqual({ waiting: 0, prioritized: 3, active: 0, delayed: 2, completed: 0, failed: 0, paused: 0 });
    expect(snapshot.paused).toBe(false);
    expect(snapshot.redis).toMatchObject({ status: 'up', url: process.env.REDIS_URL });
    expect(snapshot.prefix).toBe(prefix);

    const prioritized = snapshot.jobs.filter((j: { state: string }) => j.state === 'prioritized');
    expect(prioritized.map((j: { id: string; priority: string }) => [j.id, j.priority])).toEqual([
      [ids.critical, 'critical'],
      [ids.third, 'normal'],
      [ids.low, 'low'],
    ]);
    const delayed = snapshot.jobs.find((j: { id: string }) => j.id === ids.delayed);
    expect(delayed).toMatchObject({ state: 'delayed', type: 'echo', priority: 'normal' });
    expect(Date.parse(delayed.runAt) - Date.parse(delayed.addedAt)).toBe(60_000);
    expect(snapshot.schedules).toEqual([{ key: 'nightly', type: 'echo', pattern: NIGHTLY, everyMs: null, tz: 'UTC', next: expect.any(String) }]);
  });

  test('--limit caps the jobs listed per state', async () => {
    const result = await runCli(['monitor', '--json', '--limit', '1'], env);
    const { jobs, counts } = JSON.parse(result.stdout);
    expect(jobs.map((j: { state: string; id: string }) => [j.state, j.id])).toEqual([
      ['prioritized', ids.critical],
      ['delayed', ids.delayed],
    ]);
    expect(counts.prioritized).toBe(3);
  });

  test('the plain view shows counts, the next jobs with priority names, and the schedules', async () => {
    const result = await runCli(['monitor'], env);
    expect(result.code).toBe(0);
    const out = result.stdout;
    expect(out).toContain(`Sluice queue "jobs" (prefix ${prefix})`);
    expect(out).toMatch(/Jobs per state\n {2}waiting +prioritized +active +delayed +completed +failed +paused\n {2}0 +3 +0 +2 +0 +0 +0\n/);
    // ADDED prints a date too when the job was added on another day than now (just before midnight).
    expect(out).toMatch(new RegExp(`prioritized +echo +critical +(\\d{4}-\\d{2}-\\d{2} )?\\d{2}:\\d{2}:\\d{2} \\([^)]+\\) +- +- +${ids.critical}\\n`));
    expect(out).toMatch(new RegExp(`Schedules \\(1\\)\\n {2}KEY +TYPE +REPEAT +NEXT RUN\\n {2}nightly +echo +cron ${NIGHTLY.replaceAll('*', '\\*')} \\(UTC\\) +`));
  });

  test('a paused queue is reported as paused', async () => {
    await queue.pause();
    try {
      const { paused, counts } = JSON.parse((await runCli(['monitor', '--json'], env)).stdout);
      expect(paused).toBe(true);
      expect(counts.paused).toBe(3);
    } finally {
      await queue.resume();
    }
  });

  test('--watch draws frames until SIGINT, then exits 0', async () => {
    const proc = startCli(['monitor', '--watch'], env);
    const { text, rest } = await readUntil(proc.stdout, 'the first frame', (t) => t.includes('Ctrl+C to stop'));
    expect(text).toContain('Jobs per state');
    expect(text).toContain('Schedules (1)');
    proc.kill('SIGINT');
    expect(await proc.exited).toBe(0);
    await rest();
    expect(await new Response(proc.stderr).text()).toBe('');
  });

  test('--watch --json prints one object per line until SIGINT', async () => {
    const proc = startCli(['monitor', '--watch', '--json'], env);
    const { text, rest } = await readUntil(proc.stdout, 'two JSON lines', (t) => t.split('\n').length > 2);
    proc.kill('SIGINT');
    expect(await proc.exited).toBe(0);
    const lines = (text + (await rest())).split('\n').filter(Boolean);
    for (const line of lines) expect(JSON.parse(line).counts.prioritized).toBe(3);
  });

  test('--watch --json into a reader that stops early (| head -1) ends quietly with exit 0', async () => {
    const script = `"${process.execPath}" apps/cli/src/main.ts monitor --watch --json | head -1; echo "cli exit \${PIPESTATUS[0]}"`;
    const shell = Bun.spawn(['bash', '-c', script], { cwd: resolve(import.meta.dir, '../..'), env, stdout: 'pipe', stderr: 'pipe' });
    const [stdout, stderr] = await Promise.all([new Response(shell.stdout).text(), new Response(shell.stderr).text(), shell.exited]);
    const [first, status] = stdout.trim().split('\n');
    expect(JSON.parse(first!).counts.prioritized).toBe(3);
    expect(status).toBe('cli exit 0');
    // Before, the closed pipe surfaced as an EPIPE error with a stack trace, and exit 1.
    expect(stderr).toBe('');
  }, 30_000);

  test('bad flags exit 2 naming the flag', async () => {
    expect(await runCli(['monitor', '--limit', 'many'], env)).toEqual({ code: 2, stdout: '', stderr: 'error: --limit must be a whole number >= 0, got "many"\n' });
    expect(await runCli(['monitor', '--follow'], env)).toEqual({ code: 2, stdout: '', stderr: 'error: unknown flag --follow\n' });
  });

  test('Redis down: exit 1 with the RedisUnavailableError message, also with --watch', async () => {
    const port = closedPort();
    for (const args of [['monitor'], ['monitor', '--watch']]) {
      const result = await runCli(args, testEnv({ REDIS_URL: `redis://127.0.0.1:${port}`, QUEUE_PREFIX: prefix }));
      expect(result.code).toBe(1);
      expect(result.stderr).toStartWith(`error: Redis at redis://127.0.0.1:${port} is not reachable`);
    }
  }, 15_000);
});
