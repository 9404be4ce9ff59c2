/** `queue:monitor`: counts, next jobs and schedules, once or redrawn every second with --watch. */
import type { Command } from '../command.ts';
import { noMorePositionals, parseFlags, wholeNumber, type FlagSpec } from '../flags.ts';
import { createAuditStats, renderAuditStats, type AuditStats } from '../monitor/audit-stats.ts';
import { renderSnapshot } from '../monitor/render.ts';
import { createScreen } from '../monitor/screen.ts';
import { collectSnapshot, type MonitorSnapshot } from '../monitor/snapshot.ts';

const FLAGS = {
  watch: { type: 'boolean' },
  json: { type: 'boolean' },
  limit: { type: 'string' },
} as const satisfies Record<string, FlagSpec>;

const DEFAULT_LIMIT = 10;
const REFRESH_MS = 1000;

export const command: Command = {
  summary: 'show jobs per state, the next jobs and the schedules (--watch, --json)',
  help: () => `Usage: bun run queue:monitor [--watch] [--json] [--limit N]

Shows the queue: jobs per state (waiting, prioritized, active, delayed, completed,
failed, paused), the next active/waiting/prioritized/delayed jobs with type, id,
priority, added-at and run-at, the schedules with their next run, and per job
type over the last hour (from the audit table): runs, success rate, p95 duration.

Flags:
  --watch      redraw in place every second until Ctrl+C (exits 0)
  --json       print one JSON object (with --watch: one object per line, every second)
               with counts, jobs, schedules, paused, redis, lastProcessedAt
  --limit N    jobs listed per state (default ${DEFAULT_LIMIT}; 0 lists none)
  -h, --help   show this help

Examples:
  bun run queue:monitor
  bun run queue:monitor --watch
  bun run queue:monitor --json --limit 3

Exit codes: 0 ok, 1 Redis unreachable, 2 bad arguments.`,

  async run(args, ctx) {
    const { flags, positionals } = parseFlags(args, FLAGS);
    noMorePositionals(positionals, 0);
    const limit = flags.limit === undefined ? DEFAULT_LIMIT : wholeNumber('limit', flags.limit);
    const queue = await ctx.queue();
    const audit = createAuditStats(ctx.config);
    const snapshot = async (): Promise<MonitorSnapshot & { audit: AuditStats }> => {
      const [s, stats] = await Promise.all([collectSnapshot(queue, ctx.config, limit), audit.collect()]);
      return { ...s, audit: stats };
    };
    const render = (s: MonitorSnapshot & { audit: AuditStats }) => [...renderSnapshot(s), '', ...renderAuditStats(s.audit)];

    if (!flags.watch) {
      const s = await snapshot().finally(() => audit.close());
      await ctx.print(...(flags.json ? [JSON.stringify(s, null, 2)] : render(s)));
      return 0;
    }

    const stop = ctx.interrupted();
    const screen = flags.json ? null : createScreen(process.stdout);
    while (!stop.aborted) {
      try {
        const s = await snapshot();
        if (screen) await screen.draw([...render(s), '', `refreshing every ${REFRESH_MS / 1000}s; Ctrl+C to stop`]);
        else await ctx.print(JSON.stringify(s));
      } catch (error) {
        // A blip (Redis restarting) should not end a watch; the next tick retries.
        const message = error instanceof Error ? error.message : String(error);
        if (screen) await screen.draw([`queue:monitor: ${message}`, '', 'retrying every second; Ctrl+C to stop']);
        else await ctx.print(JSON.stringify({ at: new Date().toISOString(), error: message }));
      }
      await sleep(REFRESH_MS, stop);
    }
    await screen?.close();
    await audit.close();
    return 0;
  },
};

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
