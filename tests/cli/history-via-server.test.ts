/** `queue:history` beside a server that holds the embedded audit store: it reads through the server's API. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { testEnv } from '../helpers/env.ts';
import { waitFor } from '../helpers/wait.ts';
import { spawnServer, type ServerProcess } from '../server/helpers/server-process.ts';

const CLI = resolve(import.meta.dir, '../../apps/cli/src/main.ts');
const LOCK_TAKER = resolve(import.meta.dir, '../audit/fixtures/lock-taker.ts');
const dataDir = mkdtempSync(join(tmpdir(), 'sluice-history-via-server-'));
let server: ServerProcess;

async function history(...args: string[]) {
  // The CLI sees what a user's shell would: the server's HOST/PORT/prefix and the same DATA_DIR.
  const proc = Bun.spawn([process.execPath, CLI, 'history', ...args], { env: testEnv({ ...server.env }), stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  // Embedded PGlite store (no DATABASE_URL), owned by the server; reads need the admin token.
  server = await spawnServer({
    label: 'history-via-server',
    env: { DATABASE_URL: '', DATA_DIR: dataDir, ADMIN_TOKEN: 'history-token', ADMIN_GUARD_READS: 'true' },
    authorization: 'Bearer history-token',
  });
}, 60_000);
afterAll(async () => {
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}, 30_000);

test('history prints the executions the server recorded, and says where it read them', async () => {
  const submitted = await server.request('/api/v1/jobs', { method: 'POST', json: { type: 'echo', data: { message: 'via the server' } } });
  const { id } = (await submitted.json()) as { id: string };
  await waitFor('the audit row', async () => {
    const job = (await (await server.request(`/api/v1/jobs/${id}`)).json()) as { audit: unknown[] | null };
    return (job.audit?.length ?? 0) >= 1;
  }, { timeoutMs: 30_000 });

  const table = await history('--type', 'echo');
  expect(table.code).toBe(0);
  expect(table.stderr).toContain(`read through the server at ${server.url}`);
  expect(table.stdout).toMatch(new RegExp(`^\\S+ \\S+\\s+${id}\\s+echo\\s+1\\s+completed`, 'm'));

  // A time range travels to the API as ISO 8601.
  const ranged = await history('--type', 'echo', '--since', '1h', '--until', new Date(Date.now() + 60_000).toISOString());
  expect(ranged.code).toBe(0);
  expect(ranged.stdout).toMatch(new RegExp(`^\\S+ \\S+\\s+${id}\\s+echo\\s+1\\s+completed`, 'm'));
  expect((await history('--type', 'echo', '--until', '1h')).stdout.trim()).toBe('no executions recorded that match');

  const json = await history('--job-id', id, '--json');
  expect(json.code).toBe(0);
  const page = JSON.parse(json.stdout) as { rows: { jobId: string; status: string; data: unknown }[]; nextCursor: string | null };
  expect(page.rows).toHaveLength(1);
  expect(page.rows[0]).toMatchObject({ jobId: id, status: 'completed', data: { message: 'via the server' } });
}, 60_000);

test("queue:monitor's audit section reads through the server too, and says so", async () => {
  const proc = Bun.spawn([process.execPath, CLI, 'monitor', '--json'], { env: testEnv({ ...server.env }), stdout: 'pipe', stderr: 'pipe' });
  const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  expect(code).toBe(0);
  const { audit } = JSON.parse(stdout) as { audit: { via?: string; types?: { type: string; runs: number; health: string }[]; error?: string } };
  expect(audit.error).toBeUndefined();
  expect(audit.via).toBe(server.url);
  // The first test's job ran and was recorded.
  expect(audit.types).toEqual([expect.objectContaining({ type: 'echo', runs: 1, health: 'ok' })]);

  const plain = Bun.spawn([process.execPath, CLI, 'monitor'], { env: testEnv({ ...server.env }), stdout: 'pipe', stderr: 'pipe' });
  const text = await new Response(plain.stdout).text();
  expect(text).toContain(`Executions in the last 1h (audit table, through the server at ${server.url})`);
  expect(text).toMatch(/^\s+echo\s+1\s+0\s+100\.0%/m);
}, 30_000);

test('a bad --cursor is exit 2 through the server too, and an unreachable server is named', async () => {
  const cursor = await history('--cursor', 'garbage');
  expect(cursor.code).toBe(2);
  expect(cursor.stderr).toBe('error: cursor is not one this API returned\n');
  expect((await history('--cursor', '')).code).toBe(2);

  // Wrong PORT: the embedded store is still busy, and the message says which server it tried.
  const proc = Bun.spawn([process.execPath, CLI, 'history'], { env: testEnv({ ...server.env, PORT: '1' }), stdout: 'pipe', stderr: 'pipe' });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  expect(code).toBe(1);
  expect(stderr).toContain('could not reach the server at http://127.0.0.1:1 (');
}, 30_000);

test('a server that is not the process holding the embedded store is not read from', async () => {
  // Another store, held by a process that serves no HTTP (a `bun run worker`, say), while
  // this server answers on HOST:PORT with its own table.
  const otherDir = mkdtempSync(join(tmpdir(), 'sluice-history-other-'));
  mkdirSync(join(otherDir, 'audit'));
  const holder = Bun.spawn([process.execPath, LOCK_TAKER], { env: { ...process.env, DATA_DIR: otherDir, HOLD_MS: '20000' }, stdout: 'pipe' });
  try {
    const reader = holder.stdout.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('"got":true');
    const env = testEnv({ ...server.env, DATA_DIR: otherDir });
    const proc = Bun.spawn([process.execPath, CLI, 'history'], { env, stdout: 'pipe', stderr: 'pipe' });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect({ code, stdout }).toEqual({ code: 1, stdout: '' });
    expect(stderr).toContain(`is open in process ${holder.pid} on host ${hostname()}`);
    expect(stderr).toContain(`Asking the server failed too: the server at ${server.url} is process ${server.proc.pid} on host ${hostname()}, not the one with this embedded store open`);

    const monitor = Bun.spawn([process.execPath, CLI, 'monitor', '--json'], { env, stdout: 'pipe', stderr: 'pipe' });
    const { audit } = JSON.parse(await new Response(monitor.stdout).text()) as { audit: { via?: string; error?: string } };
    expect(audit.via).toBeUndefined();
    expect(audit.error).toContain(`not the one with this embedded store open`);
  } finally {
    holder.kill();
    await holder.exited;
    rmSync(otherDir, { recursive: true, force: true });
  }
}, 30_000);
