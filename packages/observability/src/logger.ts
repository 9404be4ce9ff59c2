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

/**
 * The longest string an error brings into a log line, and how much of its structure: keys per
 * object, depth, and values in all (an HTTP client's error can hold its socket and agent).
 */
export const LOGGED_ERROR_LIMITS = { chars: 8192, keys: 50, depth: 5, values: 500, totalChars: 32_768 } as const;

/**
 * pino's error serializer, bounded. It copies an error's message and stack, its causes'
 * (joined in), an AggregateError's errors and every enumerable property (an HTTP client's
 * response body), so one error carrying a response could make a megabyte log line per failure.
 * Throws where pino's own does (a frozen error), for the caller's fallback.
 */
export function boundedErrorSerializer(value: unknown): unknown {
  return bound(pino.stdSerializers.err(value as Error), 0, { left: LOGGED_ERROR_LIMITS.values, charsLeft: LOGGED_ERROR_LIMITS.totalChars, path: new Set() });
}

interface Walk {
  /** Values still to be shown. */
  left: number;
  /** Characters of strings still to be shown, over the whole error. */
  charsLeft: number;
  /** The objects above this one: met again, they are a cycle. */
  path: Set<object>;
}

function bound(value: unknown, depth: number, walk: Walk): unknown {
  const { chars, keys, depth: maxDepth } = LOGGED_ERROR_LIMITS;
  if (walk.left-- <= 0) return '[more]';
  if (typeof value === 'string') {
    const kept = Math.max(0, Math.min(chars, walk.charsLeft));
    if (kept === 0 && value.length > 0) return '[more]';
    walk.charsLeft -= Math.min(value.length, kept);
    return value.length > kept ? `${value.slice(0, kept)}… [truncated ${value.length - kept} chars]` : value;
  }
  if (typeof value !== 'object' || value === null) return value;
  if (walk.path.has(value)) return '[Circular]';
  if (depth >= maxDepth) return '[nested too deep]';
  walk.path.add(value);
  try {
    if (Array.isArray(value)) {
      const items = value.slice(0, keys).map((item) => bound(item, depth + 1, walk));
      return value.length > keys ? [...items, `[${value.length - keys} more]`] : items;
    }
    const entries = Object.entries(value);
    const kept = Object.fromEntries(entries.slice(0, keys).map(([key, item]) => [key, bound(item, depth + 1, walk)]));
    if (entries.length > keys) kept['[more]'] = `${entries.length - keys} more properties`;
    return kept;
  } finally {
    walk.path.delete(value);
  }
}

export function createLogger(options: LoggerOptions): Logger {
  const base = { level: options.level, base: { pid: process.pid, ...options.bindings }, serializers: { err: boundedErrorSerializer } };
  // pino-pretty as an in-process stream rather than a transport: transports run in a
  // worker thread, which would outlive short CLI runs and lose their last lines.
  if (!options.pretty) return pino(base);
  return pino(base, pretty({ colorize: process.stdout.isTTY ?? false, ignore: 'hostname', singleLine: true, sync: true }));
}
