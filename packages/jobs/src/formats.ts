/**
 * The string formats a job schema may use (`Type.String({ format: 'email' })`).
 * TypeBox knows none by default and rejects every value of an unknown format, and Elysia
 * registers its own set only in processes that load it (the server, not workers or the
 * CLI). Registering one set here, whenever a payload validator is built, makes a payload
 * check the same in the API, the CLI and the worker that runs the job.
 */
import { FormatRegistry } from '@sinclair/typebox';

const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const IPV4 = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** A calendar date that exists: `2026-02-30` is refused. */
function isDate(value: string): boolean {
  const match = DATE.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC, which reads years 0..99 as 1900..1999.
  date.setUTCFullYear(year, month - 1, day);
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

export const STRING_FORMATS: Readonly<Record<string, (value: string) => boolean>> = {
  email: (value) => value.length <= 254 && EMAIL.test(value),
  uuid: (value) => UUID.test(value),
  uri: (value) => URL.canParse(value),
  date: isDate,
  'date-time': (value) => DATE_TIME.test(value) && isDate(value.slice(0, 10)) && !Number.isNaN(Date.parse(value)),
  ipv4: (value) => IPV4.test(value),
};

export function registerStringFormats(): void {
  for (const [name, check] of Object.entries(STRING_FORMATS)) FormatRegistry.Set(name, check);
}
