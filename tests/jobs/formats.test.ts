/**
 * Payload formats in a process that never loads Elysia, as in a worker subprocess or the CLI:
 * a schema with `format: 'email'` must accept good addresses and refuse bad ones there too,
 * not refuse every value as an unknown format.
 */
import { describe, expect, test } from 'bun:test';

const SCRIPT = `
import { Type } from '@sinclair/typebox';
import { createPayloadValidator, defineJob } from '@sluice/jobs';
const registry = {
  sendEmail: defineJob({
    description: 'test',
    schema: Type.Object({
      to: Type.String({ format: 'email' }),
      at: Type.Optional(Type.String({ format: 'date-time' })),
      id: Type.Optional(Type.String({ format: 'uuid' })),
      day: Type.Optional(Type.String({ format: 'date' })),
      link: Type.Optional(Type.String({ format: 'uri' })),
      ip: Type.Optional(Type.String({ format: 'ipv4' })),
    }),
    async run() { return null; },
  }),
};
const validate = createPayloadValidator(registry);
const cases = JSON.parse(process.argv[1]);
console.log(JSON.stringify(cases.map((data) => validate('sendEmail', data))));
`;

async function validateInFreshProcess(cases: unknown[]): Promise<({ path: string; message: string } | null)[]> {
  const proc = Bun.spawn(['bun', '-e', SCRIPT, JSON.stringify(cases)], { stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(err).toBe('');
  expect(code).toBe(0);
  return JSON.parse(out);
}

describe('string formats in job schemas, without Elysia loaded', () => {
  test('good values pass', async () => {
    const results = await validateInFreshProcess([
      { to: 'ops@example.com' },
      { to: 'a.b+c@mail.example.org', at: '2026-12-01T21:30:00.123Z', id: '0b6f6a9e-2c4f-4d8e-9b1a-3c2d1e0f9a8b' },
      { to: 'x@y.io', day: '2024-02-29', link: 'https://example.com/a?b=c', ip: '10.0.0.255' },
      // Years below 100 are years, not 19xx.
      { to: 'x@y.io', day: '0099-03-01', at: '0050-06-15T00:00:00Z' },
    ]);
    expect(results).toEqual([null, null, null, null]);
  });

  test('bad values are refused, naming the field and the format', async () => {
    const results = await validateInFreshProcess([
      { to: 'not-an-email' },
      { to: 'ops@example.com', at: '2026-02-30T10:00:00Z' },
      { to: 'ops@example.com', id: 'abc' },
      { to: 'ops@example.com', day: '2026-13-01' },
      { to: 'ops@example.com', link: 'no scheme' },
      { to: 'ops@example.com', ip: '256.1.1.1' },
    ]);
    expect(results.map((r) => r?.path)).toEqual(['/to', '/at', '/id', '/day', '/link', '/ip']);
    for (const result of results) expect(result!.message).toMatch(/^Expected string to match '[a-z0-9-]+' format$/);
  });
});
