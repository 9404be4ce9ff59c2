/** `queue:scheduler`: sets up, lists and removes Job Schedulers. The built-in ones come from the job definitions. */
import { removeSchedules, SCHEDULE_MODES, setupSchedules, type ScheduleAction, type ScheduleInfo, type ScheduleMode } from '@sluice/queue';
import type { CliContext, Command } from '../command.ts';
import { NotFoundError, UsageError } from '../errors.ts';
import { noMorePositionals, parseFlags } from '../flags.ts';
import { describeRepeat, printable, table, when } from '../format.ts';

const HELP = `Usage: bun run queue:scheduler <subcommand>

Manages BullMQ Job Schedulers (repeating jobs). The built-in ones come from the
job definitions that declare a \`schedule\`; they are keyed builtin-<type>.

Subcommands:
  setup <test|production>  register every built-in schedule: production uses each
                           definition's cron pattern or interval, test repeats every
                           testEveryMs (default 10s) so you can watch them run.
                           Safe to run again; switches mode in place; definitions
                           disabled by config are skipped (and removed if present).
  list                     every schedule: built-in and queue:add --every/--cron ones
  remove                   remove the built-in schedules (builtin-*)
  remove KEY               remove one schedule by its key
  remove --all             remove every schedule
  help                     show this help

Flags:
  --json       print JSON instead of a table (setup, list, remove)
  -h, --help   show this help

Examples:
  bun run queue:scheduler setup test
  bun run queue:scheduler list
  bun run queue:scheduler remove echo-every-60000
  bun run queue:scheduler setup production

Exit codes: 0 ok, 1 Redis unreachable or KEY not found, 2 bad arguments.`;

type Sub = (args: string[], ctx: CliContext) => Promise<number>;

const SUBCOMMANDS: Record<string, Sub> = {
  async setup(args, ctx) {
    const { flags, positionals } = parseFlags(args, { json: { type: 'boolean' } });
    const mode = positionals[0];
    if (mode === undefined) throw new UsageError(`setup needs a mode: ${SCHEDULE_MODES.join(' or ')}`, '<mode>');
    if (!SCHEDULE_MODES.includes(mode as ScheduleMode)) throw new UsageError(`unknown mode "${mode}" (use ${SCHEDULE_MODES.join(' or ')})`, '<mode>');
    noMorePositionals(positionals, 1);
    const result = await setupSchedules(await ctx.queue(), ctx.registry, ctx.config, mode as ScheduleMode);
    if (flags.json) {
      await ctx.print(JSON.stringify(result, null, 2));
      return 0;
    }
    const lines = result.actions.length === 0
      ? ['No job type declares a built-in schedule; nothing to set up.']
      : [`Built-in schedules (${mode} mode)`, ...table(['KEY', 'TYPE', 'ACTION', 'REPEAT', 'NEXT RUN'], result.actions.map(actionRow)).map((row) => `  ${row}`)];
    if (!ctx.config.scheduler.enabled) {
      lines.push('', 'note: ENABLE_SCHEDULED_JOBS=false, so the server will not set these up at start; they stay until removed.');
    }
    await ctx.print(...lines);
    return 0;
  },

  async list(args, ctx) {
    const { flags, positionals } = parseFlags(args, { json: { type: 'boolean' } });
    noMorePositionals(positionals, 0);
    const schedules = await (await ctx.queue()).listCrons();
    if (flags.json) await ctx.print(JSON.stringify(schedules, null, 2));
    else await ctx.print(...renderList(schedules));
    return 0;
  },

  async remove(args, ctx) {
    const { flags, positionals } = parseFlags(args, { all: { type: 'boolean' }, json: { type: 'boolean' } });
    noMorePositionals(positionals, 1);
    const key = positionals[0];
    if (key !== undefined && flags.all) throw new UsageError('give a KEY or --all, not both', '--all');
    // An empty KEY (an unset shell variable) is a mistake in the command, not a schedule to look for.
    if (key !== undefined && key.trim() === '') throw new UsageError('remove KEY needs a key (queue:scheduler list shows them)', 'KEY');
    const queue = await ctx.queue();
    let removed: string[];
    if (key === undefined) {
      removed = await removeSchedules(queue, { all: flags.all === true });
    } else if (await queue.removeCron(key)) {
      removed = [key];
    } else {
      // Keys from before control characters were refused may hold an escape sequence: shown escaped.
      const known = (await queue.listCrons()).map((s) => printable(s.key));
      throw new NotFoundError(`no schedule with key "${printable(key)}" (existing: ${known.length > 0 ? known.join(', ') : 'none'})`);
    }
    if (flags.json) await ctx.print(JSON.stringify({ removed }, null, 2));
    else await ctx.print(removed.length === 0 ? 'No schedules to remove.' : `removed ${removed.length} schedule(s): ${removed.map(printable).join(', ')}`);
    return 0;
  },

  async help(_args, ctx) {
    await ctx.print(HELP);
    return 0;
  },
};

function actionRow(action: ScheduleAction): string[] {
  if (action.action === 'skipped' || action.action === 'removed') return [action.key, action.type, `${action.action} (${action.reason})`, '-', '-'];
  const repeat = describeRepeat({ pattern: action.spec.pattern ?? null, everyMs: action.spec.everyMs ?? null, tz: action.spec.tz ?? null });
  return [action.key, action.type, action.action, repeat, when(action.next)];
}

function renderList(schedules: ScheduleInfo[]): string[] {
  if (schedules.length === 0) return ['No schedules. Create them with: bun run queue:scheduler setup test'];
  const rows = schedules.map((s) => [
    s.key,
    s.type,
    describeRepeat(s),
    when(s.next),
    truncate(JSON.stringify(s.data), 60),
  ]);
  return table(['KEY', 'TYPE', 'REPEAT', 'NEXT RUN', 'DATA'], rows);
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export const command: Command = {
  summary: 'set up, list or remove repeating schedules (setup <test|production> | list | remove | help)',
  help: () => HELP,
  async run(args, ctx) {
    const [name, ...rest] = args;
    if (name === undefined) throw new UsageError(`missing subcommand (use ${Object.keys(SUBCOMMANDS).join(', ')})`, '<subcommand>');
    const sub = Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
    if (!sub) throw new UsageError(`unknown subcommand "${name}" (use ${Object.keys(SUBCOMMANDS).join(', ')})`, '<subcommand>');
    return sub(rest, ctx);
  },
};
