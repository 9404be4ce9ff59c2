/** Deeply nested JSON bodies: a quick 400 INVALID_BODY in development and production, the server answering meanwhile; `data` may still nest 1,000 levels. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { deletePrefix, spawnServer, type ServerProcess } from './helpers/server-process.ts';

setDefaultTimeout(60_000);

const TOKEN = 'nesting-test-token';
/** Far below the 20-30 s a deep body used to hold a development server for. */
const QUICK_MS = 2_000;

let development: ServerProcess;
let production: ServerProcess;

beforeAll(async () => {
  const env = { ADMIN_TOKEN: TOKEN, WORKER_COUNT: '1', AUDIT_ENABLED: 'false' };
  // Elysia words validation errors differently by NODE_ENV, read when it is imported: one server each.
  [development, production] = await Promise.all([
    spawnServer({ label: 'nesting-dev', authorization: `Bearer ${TOKEN}`, env: { ...env, NODE_ENV: 'development' } }),
    spawnServer({ label: 'nesting-prod', authorization: `Bearer ${TOKEN}`, env: { ...env, NODE_ENV: 'production' } }),
  ]);
});

afterAll(async () => {
  for (const server of [development, production]) {
    if (!server) continue;
    expect(await server.stop()).toBe(0);
    await deletePrefix(server.prefix);
  }
});

const nested = (levels: number, inner = '') => '['.repeat(levels) + inner + ']'.repeat(levels);
/** `{"message":"deep", "next": {...}}` `levels` objects deep, `levels` counting the outermost. */
const nestedObject = (levels: number) => '{"message":"deep","next":'.repeat(levels - 1) + '{"message":"deep"}' + '}'.repeat(levels - 1);
/** Nearly 1 MiB of arrays `levels` deep, side by side. */
const wide = (levels: number) => `[${Array.from({ length: Math.floor((1024 * 1024 - 10_000) / (2 * levels + 1)) }, () => nested(levels)).join(',')}]`;

async function post(server: ServerProcess, path: string, body: string) {
  const started = Date.now();
  const response = await server.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type'), ms: Date.now() - started, body: JSON.parse(text) as { error: { code: string; message: string; field?: string } } };
}

const jobCount = async (server: ServerProcess) => {
  const health = (await (await server.request('/api/v1/jobs/health')).json()) as { queue: Record<string, unknown> };
  return health.queue;
};

describe.each([
  ['development', () => development],
  ['production', () => production],
] as const)('with NODE_ENV=%s', (_env, server) => {
  test('20,000 levels in a field other than data is a quick 400 INVALID_BODY naming the limit, and /health answers meanwhile', async () => {
    const before = await jobCount(server());
    const refused = post(server(), '/api/v1/jobs', `{"type":"echo","data":{"message":"x"},"zzz":${nested(20_000)}}`);
    const health = await server().request('/health');
    expect(health.status).toBe(200);
    const result = await refused;
    expect(result.status).toBe(400);
    expect(result.body.error).toEqual({
      code: 'INVALID_BODY',
      message: "invalid body: the body nests objects and arrays deeper than 1001 levels (a job's data may nest 1000)",
      field: 'body',
    });
    expect(result.ms).toBeLessThan(QUICK_MS);
    expect(await jobCount(server())).toEqual(before);
  });

  test('8,000 levels in `type` (once an overflow in the error handler, a text/plain 500) is a JSON 400', async () => {
    const result = await post(server(), '/api/v1/jobs', `{"type":${nested(8_000)},"data":{"message":"x"}}`);
    expect({ status: result.status, contentType: result.contentType, code: result.body.error.code }).toEqual({
      status: 400,
      contentType: 'application/json',
      code: 'INVALID_BODY',
    });
  });

  test('1 MiB of arrays 999 levels deep, in an unknown field or in data beside one, is a quick 400 naming the field', async () => {
    for (const [body, field] of [
      [`{"type":"echo","data":{"message":"x"},"zzz":${wide(999)}}`, 'zzz'],
      [`{"type":"echo","data":${wide(999)},"zzz":1}`, 'zzz'],
      [`{"type":"echo","data":${wide(999)},"delay":-1}`, 'delay'],
    ] as const) {
      const result = await post(server(), '/api/v1/jobs', body);
      expect({ status: result.status, code: result.body.error.code, field: result.body.error.field }).toEqual({ status: 400, code: 'INVALID_BODY', field });
      expect(result.ms).toBeLessThan(QUICK_MS);
    }
    // A schedule's body is checked the same way.
    const schedule = await server().request('/api/v1/jobs/schedules/deep', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: `{"type":"echo","data":${wide(999)},"pattern":"0 3 * * *","tz":${nested(999)}}`,
    });
    expect(schedule.status).toBe(400);
  });

  test('data nested 1,000 levels still reaches its job type (every type checks it); 1,001 levels is refused by the body limit', async () => {
    // No built-in type takes nested data; echo's schema refusing the extra field shows the depth got through.
    const checked = await post(server(), '/api/v1/jobs', `{"type":"echo","data":${nestedObject(1000)},"delay":600000}`);
    expect({ status: checked.status, code: checked.body.error.code, field: checked.body.error.field }).toEqual({ status: 400, code: 'INVALID_JOB_DATA', field: 'data/next' });
    const refused = await post(server(), '/api/v1/jobs', `{"type":"echo","data":${nestedObject(1001)},"delay":600000}`);
    expect({ status: refused.status, code: refused.body.error.code, field: refused.body.error.field }).toEqual({ status: 400, code: 'INVALID_BODY', field: 'body' });
  });
});
