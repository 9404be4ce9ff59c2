/** Request schemas shared by the jobs API routes. The schema is the type and the validation. */
import { Value } from '@sinclair/typebox/value';
import { mapValueError, t, type TSchema } from 'elysia';
import { InvalidInputError } from '../http-errors.ts';
import { MAX_ATTEMPTS, MAX_DELAY_MS, MAX_JOB_ID_CHARS, MAX_PRIORITY, MAX_SCHEDULE_KEY_CHARS, MIN_EVERY_MS } from '@sluice/queue';

/**
 * The custom error each field carries. Elysia reports some coercion failures (a query
 * string below a minimum) without a path, so the field name travels with the message.
 */
export interface FieldProblem {
  field: string;
  message: string;
}
const problem = (field: string, message: string) => (): FieldProblem => ({ field, message });

/** Job ids: BullMQ counters are numeric strings; custom ids are free text without ':'. */
export const JobIdParams = t.Object({
  id: t.String({ minLength: 1, maxLength: MAX_JOB_ID_CHARS, error: problem('id', `id must be a job id of 1 to ${MAX_JOB_ID_CHARS} characters`) }),
});

/** Named level or a BullMQ number (smaller runs first). Literals, not UnionEnum: Elysia would default it. */
export const Priority = t.Union(
  [t.Literal('critical'), t.Literal('high'), t.Literal('normal'), t.Literal('low'), t.Integer({ minimum: 1, maximum: MAX_PRIORITY })],
  { error: problem('priority', `priority must be one of critical, high, normal, low or a whole number from 1 to ${MAX_PRIORITY}`), description: `critical | high | normal | low, or 1..${MAX_PRIORITY} (smaller runs first)` },
);

export const Attempts = t.Integer({ minimum: 1, maximum: MAX_ATTEMPTS, error: problem('attempts', `attempts must be a whole number from 1 to ${MAX_ATTEMPTS}`) });

export const SubmitBody = t.Object(
  {
    type: t.String({ minLength: 1, error: problem('type', 'type must be a job type name'), description: 'A registered job type, e.g. "echo"' }),
    data: t.Optional(t.Unknown({ description: "The payload, validated against the type's schema. Default {}" })),
    delay: t.Optional(t.Integer({ minimum: 0, maximum: MAX_DELAY_MS, error: problem('delay', `delay must be a whole number of milliseconds from 0 to ${MAX_DELAY_MS} (365 days)`), description: 'Milliseconds to wait before the job may run' })),
    priority: t.Optional(Priority),
    jobId: t.Optional(t.String({ minLength: 1, maxLength: MAX_JOB_ID_CHARS, error: problem('jobId', `jobId must be a string of 1 to ${MAX_JOB_ID_CHARS} characters`), description: 'Custom id; a second submit with the same id gets 409' })),
    attempts: t.Optional(Attempts),
  },
  { additionalProperties: false },
);

export const ScheduleKeyParams = t.Object({
  key: t.String({ minLength: 1, maxLength: MAX_SCHEDULE_KEY_CHARS, pattern: '^[^:]+$', error: problem('key', `key must be non-empty, at most ${MAX_SCHEDULE_KEY_CHARS} characters and without ':'`) }),
});

export const ScheduleBody = t.Object(
  {
    type: t.String({ minLength: 1, error: problem('type', 'type must be a job type name') }),
    data: t.Optional(t.Unknown({ description: 'Payload for every run. Default {}' })),
    pattern: t.Optional(t.String({ minLength: 1, error: problem('pattern', 'pattern must be a cron pattern'), description: 'Cron pattern; 6 fields means seconds first' })),
    everyMs: t.Optional(t.Integer({ minimum: MIN_EVERY_MS, maximum: MAX_DELAY_MS, error: problem('everyMs', `everyMs must be a whole number of milliseconds from ${MIN_EVERY_MS} (1 s) to ${MAX_DELAY_MS} (365 days)`) })),
    tz: t.Optional(t.String({ minLength: 1, description: 'IANA time zone for the pattern, e.g. Europe/Berlin. Default UTC' })),
    priority: t.Optional(Priority),
    attempts: t.Optional(Attempts),
  },
  { additionalProperties: false },
);

export const HistoryStatus = t.Union([t.Literal('completed'), t.Literal('failed')], { error: problem('status', 'status must be completed or failed') });

/** The shape of an RFC 3339 date-time; the audit store checks that the date exists and is in range. */
const RFC3339 = '^\\d{4}-\\d{2}-\\d{2}[Tt ]\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?([Zz]|[+-]\\d{2}:\\d{2})$';
const RFC3339_EXAMPLE = 'an RFC 3339 date-time, e.g. 2026-12-01T03:00:00Z or 2026-12-01T04:00:00.250%2B01:00 (a + in the offset sent as %2B)';

export const HistoryQuery = t.Object(
  {
    type: t.Optional(t.String({ minLength: 1 })),
    status: t.Optional(HistoryStatus),
    jobId: t.Optional(t.String({ minLength: 1 })),
    since: t.Optional(t.String({ pattern: RFC3339, error: problem('since', `since must be ${RFC3339_EXAMPLE}`) })),
    until: t.Optional(t.String({ pattern: RFC3339, error: problem('until', `until must be ${RFC3339_EXAMPLE}`) })),
    limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000, error: problem('limit', 'limit must be a whole number from 1 to 1000') })),
    cursor: t.Optional(t.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

export const FailuresQuery = t.Object(
  {
    type: t.Optional(t.String({ minLength: 1 })),
    limit: t.Optional(t.Integer({ minimum: 1, maximum: 500, error: problem('limit', 'limit must be a whole number from 1 to 500') })),
  },
  { additionalProperties: false },
);

/** Window for audit-derived numbers (stats, health). */
export const WindowQuery = t.Object(
  {
    windowMs: t.Optional(t.Integer({ minimum: 1000, maximum: 90 * 24 * 3_600_000, error: problem('windowMs', 'windowMs must be a whole number of milliseconds from 1000 to 90 days') })),
  },
  { additionalProperties: false },
);

export const CleanBody = t.Object(
  {
    state: t.Union([t.Literal('completed'), t.Literal('failed')], { error: problem('state', 'state must be completed or failed') }),
    olderThanMs: t.Integer({ minimum: 0, error: problem('olderThanMs', 'olderThanMs must be a whole number of milliseconds >= 0') }),
    limit: t.Optional(t.Integer({ minimum: 1, error: problem('limit', 'limit must be a whole number >= 1 (omit to clean all)') })),
  },
  { additionalProperties: false },
);

interface Property {
  type?: unknown;
  const?: unknown;
  anyOf?: Property[];
  error?: unknown;
}

// Elysia's t.Integer is `anyOf: [integer-format string, integer]`, so it also reads strings.
const takesInteger = (property: Property): boolean => property.type === 'integer' || (property.anyOf ?? []).some(takesInteger);
const integerProperties = (schema: { properties: Record<string, Property> }) => Object.entries(schema.properties).filter(([, property]) => takesInteger(property));
const fieldMessage = (name: string, property: Property) =>
  typeof property.error === 'function' ? (property.error as () => FieldProblem)().message : `${name} must be a whole number`;

/**
 * A `transform` hook for a route with `schema` as its query. Elysia reads a repeated name as
 * its last value and a query integer with Number(), so `limit=10&limit=1000`, `limit=1e2`
 * and `limit=0x10` would pass. Refused here, before validation: each name once, integers as digits.
 */
export function strictQuery(schema: { properties: Record<string, Property> }) {
  const integers = integerProperties(schema);
  return ({ request }: { request: Request }) => {
    const params = new URL(request.url).searchParams;
    for (const name of new Set(params.keys())) {
      const count = params.getAll(name).length;
      if (count > 1) throw new InvalidInputError('query', `${name} is given ${count} times; give it once`, name);
    }
    for (const [name, property] of integers) {
      const value = params.get(name);
      if (value !== null && !/^[0-9]+$/.test(value)) throw new InvalidInputError('query', fieldMessage(name, property), name);
    }
  };
}

/** The field and message for the first way `body` fails `schema`, as the error handler words Elysia's, or null. */
function firstBodyProblem(schema: TSchema, body: unknown): FieldProblem | null {
  const first = Value.Errors(schema, body).First();
  if (!first) return null;
  const custom = (first.schema as Property).error;
  if (typeof custom === 'function') return (custom as () => FieldProblem)();
  return { field: first.path.replace(/^\//, '') || 'body', message: mapValueError(first)?.summary ?? first.message };
}

/**
 * A `transform` hook for a route with `schema` as its JSON body. Elysia would turn a string
 * into an integer (`"delay": "0x10"` is 16 ms): a number in JSON is a JSON number. A string
 * is kept only where the field names it (priority "high"). The body itself must be an object.
 *
 * Then the whole body is checked against `schema` here, so Elysia's own validator only ever
 * sees a valid one: outside production, Elysia words a failure by pretty-printing the whole
 * body (JSON.stringify(body, null, 2)), which for a large, deeply nested body takes seconds
 * during which the server answers nothing.
 */
export function strictBody(schema: TSchema & { properties: Record<string, Property> }) {
  const integers = integerProperties(schema).map(([name, property]) => {
    const names = (property.anyOf ?? []).map((option) => option.const).filter((value) => typeof value === 'string');
    return { name, property, names };
  });
  return ({ body }: { body: unknown }) => {
    // An array or a bare value would be reported as its first missing field.
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new InvalidInputError('body', `the body must be a JSON object, got ${body === null ? 'null' : Array.isArray(body) ? 'an array' : typeof body}`, 'body');
    }
    for (const { name, property, names } of integers) {
      const value = (body as Record<string, unknown>)[name];
      if (typeof value === 'string' && !names.includes(value)) throw new InvalidInputError('body', fieldMessage(name, property), name);
    }
    const problem = firstBodyProblem(schema, body);
    if (problem) throw new InvalidInputError('body', problem.message, problem.field);
  };
}
