/** `queue:add`: one job, or a repeating Job Scheduler, from flags. Nothing reaches Redis until planAdd passed. */
import { canonicalZone, JobExistsError, MAX_SCHEDULE_KEY_CHARS, priorityName, resolvePriority } from '@sluice/queue';
import type { Command } from '../command.ts';
import { describeRepeat, printable, when } from '../format.ts';
import { normalPattern, planAdd, underFlag } from '../add-plan.ts';

export const command: Command = {
  summary: 'queue a job, or create a repeating schedule with --every/--cron',
  help: (registry) => `Usage: bun run queue:add <type> [flags]

Queues one job of <type>. With --every or --cron it creates (or replaces) a
repeating BullMQ Job Scheduler instead. Job types: ${Object.keys(registry).join(', ')}.

Flags:
  --data JSON            payload, checked against the type's schema (default {})
  --priority LEVEL|N     critical, high, normal, low, or 1..2097151; smaller runs first
                         (default: the type's level)
  --delay MS             do not start before MS milliseconds have passed
  --attempts N           tries before the job fails for good (default: the type's,
                         else WORKER_QUEUE_JOB_ATTEMPTS)
  --remove-on-complete   delete the job from Redis when it completes (alias --removeOnComplete;
                         default: kept 1 hour, at most 1000)
  --job-id ID            your own id; adding an id that still exists queues nothing
  --every MS             repeat every MS milliseconds, at least 1000 (alias --repeat)
  --cron PATTERN         repeat on a cron pattern: 5 fields, or 6 with seconds first
  --tz TZ                time zone for --cron, e.g. Europe/Berlin (default: this machine's
                         zone, saved with the schedule so workers elsewhere keep it)
  --key KEY              schedule name (default <type>-every-<MS> or <type>-cron-<pattern>);
                         adding the same key again replaces that schedule
  -h, --help             show this help

Examples:
  bun run queue:add echo --data '{"message":"hi"}'
  bun run queue:add echo --data '{"message":"urgent"}' --priority critical
  bun run queue:add echo --data '{"message":"later"}' --delay 5000
  bun run queue:add echo --data '{"message":"tick"}' --every 60000
  bun run queue:add echo --data '{"message":"nightly"}' --cron '0 3 * * *' --tz UTC --key nightly-echo

Exit codes: 0 queued, 1 Redis unreachable or another failure, 2 bad arguments or
payload (nothing queued).`,

  async run(args, ctx) {
    const plan = planAdd(args, ctx.registry, ctx.config);
    const queue = await ctx.queue();

    if (plan.schedule) {
      const { spec, legacyKeys = [], zoneFromLocal = false, keyGiven = false } = plan.schedule;
      const schedules = await queue.listCrons();
      // Saved by an earlier Sluice under an older derived key, with this very pattern (spaced
      // alike or not, as the key itself ignores spacing): update that one, not add a twin.
      const samePattern = (pattern: string | null) => pattern !== null && normalPattern(pattern) === normalPattern(spec.pattern ?? '');
      // One saved without a zone, before the local zone was pinned, is the same schedule too.
      const sameZone = (tz: string | null) => tz === (spec.tz ?? null) || (zoneFromLocal && tz === null);
      const legacy =
        schedules.find((s) => legacyKeys.includes(s.key) && s.type === plan.type && samePattern(s.pattern) && sameZone(s.tz)) ??
        // The same schedule saved under another derived key, its zone spelled another way (`utc`
        // for `UTC`), or named by --tz here and taken from the machine there: update it, not add
        // a twin that queues the job a second time at the same moment. Schedules named with
        // --key are left alone: two of them may run one pattern with different data on purpose.
        (keyGiven || schedules.some((s) => s.key === plan.schedule!.key)
          ? undefined
          : schedules.find(
              (s) =>
                s.key.startsWith(`${plan.type}-cron-`) &&
                s.type === plan.type &&
                samePattern(s.pattern) &&
                s.tz !== null &&
                spec.tz !== undefined &&
                canonicalZone(s.tz) === canonicalZone(spec.tz),
            ));
      // One too long for its runs' audit rows is moved to the new key instead.
      const moved = legacy && legacy.key.length > MAX_SCHEDULE_KEY_CHARS ? legacy : undefined;
      const key = moved ? plan.schedule.key : (legacy?.key ?? plan.schedule.key);
      const existed = schedules.some((s) => s.key === key);
      const saved = await queue.scheduleCron(plan.type, spec, plan.data, key, plan.options).catch((error) => {
        throw underFlag(error);
      });
      if (moved) await queue.removeCron(moved.key);
      // Keys saved before control characters were refused may still hold them: shown escaped.
      const from = moved ? ` (moved from "${printable(moved.key.slice(0, 40))}…", too long a key)` : '';
      await ctx.print(
        `${existed || moved ? 'updated' : 'created'} schedule "${printable(key)}"${from}: ${plan.type} ${describeRepeat(saved)}, next run ${when(saved.next)}`,
      );
      return 0;
    }

    const submitted = await queue.submitByName(plan.type, plan.data, plan.options).catch(async (error) => {
      if (!(error instanceof JobExistsError)) throw error;
      await ctx.print(`job "${error.jobId}" already exists (${error.state}); nothing queued`);
      return null;
    });
    if (!submitted) return 0;
    const { id } = submitted;
    const priority = priorityName(resolvePriority(plan.options.priority ?? ctx.registry[plan.type]!.priority));
    const runAt = plan.options.delayMs ? `, runs at ${when(Date.now() + plan.options.delayMs)}` : '';
    await ctx.print(`queued ${plan.type} job ${id} (priority ${priority}${runAt})`);
    return 0;
  },
};
