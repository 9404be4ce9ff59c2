/** Builds the pino root logger: JSON lines in production, pretty lines in development. */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { LogLevel } from '@sluice/config';

export type { Logger };

export interface LoggerOptions {
  level: LogLevel;
  pretty: boolean;
  /** Bound to every line, e.g. `{ process: 'worker-2' }`. */
  bindings?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions): Logger {
  const base = { level: options.level, base: { pid: process.pid, ...options.bindings } };
  // pino-pretty as an in-process stream rather than a transport: transports run in a
  // worker thread, which would outlive short CLI runs and lose their last lines.
  if (!options.pretty) return pino(base);
  return pino(base, pretty({ colorize: process.stdout.isTTY ?? false, ignore: 'hostname', singleLine: true, sync: true }));
}
