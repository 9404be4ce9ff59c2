/** `bun run worker`: the supervisor, plus the audit writer that moves its execution records into worker_jobs. */
import { loadConfigOrExit } from '@sluice/config';
import { startAuditTrail } from '@sluice/db';
import { createLogger } from '@sluice/observability';
import { startSupervisor } from './start-supervisor.ts';

const config = loadConfigOrExit(process.env);
const log = createLogger({ level: config.log.level, pretty: config.log.pretty, bindings: { process: 'supervisor' } });
// Opened before the workers so a busy embedded store fails the start, not a later write.
const audit = config.audit.enabled
  ? await startAuditTrail({ config, log }).catch((error: Error) => {
      process.stderr.write(`sluice worker: ${error.message}\n`);
      process.exit(1);
    })
  : null;
const supervisor = startSupervisor(config, log);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => void supervisor.stop());
}

const exit = await supervisor.done;
if (exit.code !== 0) process.stderr.write(`sluice worker: ${exit.reason}\n`);
// Workers have stopped, so every record they will write is in the stream: write it out.
await audit?.close();
log.info({ code: exit.code }, 'supervisor exited');
process.exit(exit.code);
