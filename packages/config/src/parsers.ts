/** Small, composable parsers for environment values. Each returns a value or throws a message. */

export type Parser<T> = (raw: string) => T;

export class ParseProblem extends Error {
  override name = 'ParseProblem';
}

const fail = (message: string): never => {
  throw new ParseProblem(message);
};

export const str: Parser<string> = (raw) => raw;

export const int =
  (min: number, max = Number.MAX_SAFE_INTEGER): Parser<number> =>
  (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) fail(`must be a whole number, got "${raw}"`);
    const value = Number(raw);
    if (value < min || value > max) fail(`must be between ${min} and ${max}, got ${value}`);
    return value;
  };

export const bool: Parser<boolean> = (raw) => {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  return fail(`must be true or false, got "${raw}"`);
};

export const oneOf =
  <const T extends string>(...choices: T[]): Parser<T> =>
  (raw) =>
    (choices as string[]).includes(raw) ? (raw as T) : fail(`must be one of ${choices.join(', ')}, got "${raw}"`);

export const url =
  (...protocols: string[]): Parser<string> =>
  (raw) => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      return fail(`must be a URL like ${protocols[0]}//host:port, got "${raw}"`);
    }
    if (!protocols.includes(parsed.protocol)) {
      fail(`must use ${protocols.join(' or ')}, got "${parsed.protocol}"`);
    }
    return raw;
  };

/** `cpus` or a positive count. */
export const countOrCpus: Parser<number | 'cpus'> = (raw) =>
  raw.trim() === 'cpus' ? 'cpus' : int(1, 256)(raw);

export const hex32: Parser<`0x${string}`> = (raw) =>
  /^0x[0-9a-fA-F]{64}$/.test(raw) ? (raw as `0x${string}`) : fail('must be 0x followed by 64 hex digits');
