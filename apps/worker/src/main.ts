/** `bun run worker`: the supervisor alone, for hosts that only process jobs. */
import { loadConfigOrExit } from '@sluice/config';
import { createLogger } from '@sluice/observability';
import { startSupervisor } from './start-supervisor.ts';

const config = loadConfigOrExit(process.env);
const log = createLogger({ level: config.log.level, pretty: config.log.pretty, bindings: { process: 'supervisor' } });
const supervisor = startSupervisor(config, log);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => void supervisor.stop());
}

const exit = await supervisor.done;
if (exit.code !== 0) process.stderr.write(`sluice worker: ${exit.reason}\n`);
log.info({ code: exit.code }, 'supervisor exited');
process.exit(exit.code);
