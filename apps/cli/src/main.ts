#!/usr/bin/env bun
/**
 * The Sluice CLI (`bun run queue:add|monitor|scheduler|history`): reads config once,
 * dispatches to one command, and maps errors to exit codes (0 ok, 1 failure, 2 usage).
 * A producer only: it talks to Redis through QueueManager and never runs handlers.
 */
import { loadConfigOrExit } from '@sluice/config';
import { jobRegistry, type JobRegistry } from '@sluice/jobs';
import { describeRedisOutOfMemory, describeRedisRefusal, isRedisCommandTimeout, QueueManager, redactUrl } from '@sluice/queue';
import cliPackage from '../package.json' with { type: 'json' };
import type { CliContext, Command } from './command.ts';
import { EXIT, exitCodeFor } from './exit-codes.ts';
import { write } from './output.ts';

/** One line per command; each module exports `command`. Loaded on demand to keep start-up short. */
const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  add: () => import('./commands/add.ts'),
  monitor: () => import('./commands/monitor.ts'),
  scheduler: () => import('./commands/scheduler.ts'),
  history: () => import('./commands/history.ts'),
};

// The reader went away (`queue:monitor --watch --json | head -1`): that is the end of the output, not an error.
const isClosedPipe = (error: unknown) => (error as { code?: string })?.code === 'EPIPE';
process.stdout.on('error', (error) => {
  if (isClosedPipe(error)) process.exit(EXIT.ok);
});

const [name, ...args] = process.argv.slice(2);
process.exit(await main(name, args));

/** The help lists the package scripts (`queue:add`); the same names work here, with or without `queue:`. */
function commandOf(given: string): string {
  return given.startsWith('queue:') ? given.slice('queue:'.length) : given;
}

async function main(name: string | undefined, args: string[]): Promise<number> {
  const registry: JobRegistry = jobRegistry;
  if (name === '--version' || name === '-V' || name === 'version') {
    await write(process.stdout, `sluice ${cliPackage.version} (bun ${Bun.version})\n`);
    return EXIT.ok;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const helpFor = name === 'help' ? args[0] : undefined;
    if (helpFor !== undefined) {
      if (!Object.hasOwn(COMMANDS, commandOf(helpFor))) {
        await write(process.stderr, `error: unknown command "${helpFor}" (commands: ${Object.keys(COMMANDS).join(', ')})\n`);
        return EXIT.usage;
      }
      return printHelp((await COMMANDS[commandOf(helpFor)]!()).command.help(registry));
    }
    await printHelp(await overview());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (!Object.hasOwn(COMMANDS, commandOf(name))) {
    await write(process.stderr, `error: unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(', ')})\n`);
    return EXIT.usage;
  }
  const { command } = await COMMANDS[commandOf(name)]!();
  // `queue:add help` as well as `queue:add --help`, unless `help` is a job type here.
  const askedHelp = args.length === 1 && args[0] === 'help' && !Object.hasOwn(registry, 'help');
  if (args.includes('--help') || args.includes('-h') || askedHelp) return printHelp(command.help(registry));

  const config = loadConfigOrExit(process.env);
  let queue: Promise<QueueManager<JobRegistry>> | undefined;
  let interrupt: AbortController | undefined;
  const ctx: CliContext = {
    config,
    registry,
    queue: () => (queue ??= QueueManager.open({ config, registry })),
    print: (...lines) => write(process.stdout, `${lines.join('\n')}\n`),
    interrupted() {
      if (!interrupt) {
        const controller = (interrupt = new AbortController());
        for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => controller.abort());
      }
      return interrupt.signal;
    },
  };

  try {
    return await command.run(args, ctx);
  } catch (error) {
    if (isClosedPipe(error)) return EXIT.ok;
    const message = isRedisCommandTimeout(error)
      ? `Redis at ${redactUrl(config.redis.url)} did not answer within REDIS_COMMAND_TIMEOUT (${config.redis.commandTimeoutMs} ms); a write may still take effect once it does`
      : (describeRedisRefusal(error, config.redis.url) ?? describeRedisOutOfMemory(error, config.redis.url) ?? (error instanceof Error ? error.message : String(error)));
    const debug = config.log.level === 'debug' || config.log.level === 'trace';
    await write(process.stderr, `error: ${message}\n${debug && error instanceof Error && error.stack ? `${error.stack}\n` : ''}`);
    return exitCodeFor(error);
  } finally {
    const opened = await queue?.catch(() => undefined);
    await opened?.close().catch(() => {});
  }
}

async function printHelp(text: string): Promise<number> {
  await write(process.stdout, `${text}\n`);
  return EXIT.ok;
}

async function overview(): Promise<string> {
  const lines = await Promise.all(
    Object.entries(COMMANDS).map(async ([name, load]) => `  ${`queue:${name}`.padEnd(17)} ${(await load()).command.summary}`),
  );
  return `Usage: bun run queue:<command> [args]   (or: bun apps/cli/src/main.ts <command> [args])

Commands:
${lines.join('\n')}

Every command takes --help; --version prints the version. Exit codes: 0 ok, 1 runtime failure (e.g. Redis
unreachable), 2 bad arguments or an invalid job (nothing changed).`;
}
