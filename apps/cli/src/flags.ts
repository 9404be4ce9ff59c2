/**
 * A strict long-flag parser. Written instead of node:util parseArgs because that one
 * takes a repeated flag silently, knows no long aliases, and reports over several lines.
 */
import { UsageError } from './errors.ts';

export interface FlagSpec {
  type: 'string' | 'boolean';
  /** Other spellings accepted for this flag, without dashes (`repeat` for `every`). */
  aliases?: readonly string[];
}

export type FlagValues<S extends Record<string, FlagSpec>> = {
  [K in keyof S]?: S[K]['type'] extends 'boolean' ? true : string;
};

export interface Parsed<S extends Record<string, FlagSpec>> {
  flags: FlagValues<S>;
  positionals: string[];
}

/**
 * `--name value`, `--name=value` and boolean `--name`. Everything after `--` is positional.
 * Throws UsageError naming the flag for an unknown flag, a missing value, a value given
 * to a boolean, and a flag given twice (under any of its spellings).
 */
export function parseFlags<S extends Record<string, FlagSpec>>(args: readonly string[], spec: S): Parsed<S> {
  const byName = new Map<string, string>();
  for (const [name, flag] of Object.entries(spec)) {
    byName.set(name, name);
    for (const alias of flag.aliases ?? []) byName.set(alias, name);
  }
  const flags: Record<string, string | true> = {};
  const seenAs: Record<string, string> = {};
  const positionals: string[] = [];

  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const written = eq === -1 ? arg : arg.slice(0, eq);
    const name = byName.get(written.replace(/^--?/, ''));
    if (!name || !written.startsWith('--')) throw new UsageError(`unknown flag ${written}`, written);
    if (seenAs[name]) {
      const how = seenAs[name] === written ? `${written} given twice` : `${seenAs[name]} and ${written} are the same flag; give it once`;
      throw new UsageError(how, written);
    }
    seenAs[name] = written;
    if (spec[name]!.type === 'boolean') {
      if (eq !== -1) throw new UsageError(`${written} takes no value`, written);
      flags[name] = true;
      continue;
    }
    const value = eq !== -1 ? arg.slice(eq + 1) : args[i + 1];
    if (value === undefined || (eq === -1 && value.startsWith('--'))) throw new UsageError(`${written} needs a value`, written);
    if (eq === -1) i++;
    flags[name] = value;
  }
  return { flags: flags as FlagValues<S>, positionals };
}

/** A whole number from a flag value, or a UsageError naming the flag. */
export function wholeNumber(flag: string, raw: string, { min = 0, max, unit = '' }: { min?: number; max?: number; unit?: string } = {}): number {
  const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || (max !== undefined && n > max)) {
    const range = max === undefined ? `>= ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`--${flag} must be a whole number${unit ? ` of ${unit}` : ''} ${range}, got "${raw}"`, `--${flag}`);
  }
  return n;
}

/** Refuses extra positional arguments, naming the first one. */
export function noMorePositionals(positionals: readonly string[], expected: number): void {
  const extra = positionals[expected];
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`, extra);
}
