/** `bun run start` / `bun run dev`: the HTTP server and the worker supervisor in one process. */
import { loadConfigOrExit } from '@sluice/config';
import { AuditError } from '@sluice/db';
import { createLogger } from '@sluice/observability';
import { describeRedisRefusal, InvalidScheduleDefinitionError, RedisUnavailableError } from '@sluice/queue';
import { onStopSignals } from '@sluice/supervisor';
import { MissingAdminCredentialsError } from './auth.ts';
import { ServerListenError, startServerProcess } from './start.ts';

const config = loadConfigOrExit(process.env);
const log = createLogger({ level: config.log.level, pretty: config.log.pretty, bindings: { process: 'server' } });

let server;
try {
  server = await startServerProcess(config, log);
} catch (error) {
  // Known start-up problems get one clear line; anything else keeps its stack.
  const known =
    error instanceof MissingAdminCredentialsError ||
    error instanceof RedisUnavailableError ||
    error instanceof AuditError ||
    error instanceof ServerListenError ||
    error instanceof InvalidScheduleDefinitionError;
  const refusal = describeRedisRefusal(error, config.redis.url);
  process.stderr.write(`sluice server: ${refusal ?? (known ? (error as Error).message : ((error as Error)?.stack ?? String(error)))}\n`);
  process.exit(1);
}

onStopSignals(
  (signal) => {
    log.info({ signal }, 'signal received');
    void server.stop();
  },
  (why) => why === 'nohup' && log.info('SIGHUP ignored: started with nohup, so the server outlives the terminal'),
);
// Started by `bun run dev` (with an IPC channel): when dev dies without stopping us, stop too.
if (process.send) {
  process.on('disconnect', () => {
    log.info('bun run dev went away; stopping');
    void server.stop();
  });
}

process.exit(await server.done);
