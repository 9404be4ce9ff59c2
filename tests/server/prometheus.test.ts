/** A real Prometheus scrapes the server (with the bearer token) and returns sluice_jobs_total through its HTTP API. */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { freePort } from '../helpers/ports.ts';
import { createTestDatabase, type TestDatabase } from './helpers/postgres.ts';
import { deletePrefix, SERVER_HOOK_TIMEOUT_MS, spawnServer, type ServerProcess } from './helpers/server-process.ts';
import { waitUntil } from './helpers/wait.ts';

setDefaultTimeout(90_000);

const prometheusBinary = Bun.which('prometheus');
if (!prometheusBinary) process.stderr.write('[prometheus.test] SKIP: the prometheus binary is not installed (apt-get install prometheus; .ci/run installs it)\n');

const TOKEN = 'scrape-token-51c2';
const JOBS = 7;
let db: TestDatabase;
let server: ServerProcess;
let prometheus: Subprocess<'ignore', 'pipe', 'pipe'> | undefined;
let prometheusOutput = '';
let prometheusUrl: string;
const dir = mkdtempSync(join(tmpdir(), 'sluice-prometheus-'));

beforeAll(async () => {
  if (!prometheusBinary) return;
  db = await createTestDatabase('prometheus');
  // Reads (and /metrics) guarded, so the scrape config must carry the token like a real deployment.
  server = await spawnServer({
    label: 'prometheus',
    authorization: `Bearer ${TOKEN}`,
    env: { ...db.env, WORKER_COUNT: '1', ADMIN_TOKEN: TOKEN, ADMIN_GUARD_READS: 'true' },
  });

  const target = new URL(server.url).host;
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      'scrape_configs:',
      '  - job_name: sluice',
      '    scrape_interval: 1s',
      '    authorization:',
      '      type: Bearer',
      `      credentials: ${TOKEN}`,
      '    static_configs:',
      `      - targets: ['${target}']`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  prometheus = Bun.spawn(
    [prometheusBinary, `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' },
  );
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of prometheus!.stderr) prometheusOutput += decoder.decode(chunk);
  })();
  await waitUntil('prometheus to be ready', async () => (await fetch(`${prometheusUrl}/-/ready`).catch(() => null))?.status === 200, 30_000);
}, SERVER_HOOK_TIMEOUT_MS);

afterAll(async () => {
  if (prometheus) {
    prometheus.kill('SIGTERM');
    await prometheus.exited;
  }
  if (server) {
    await server.stop();
    await deletePrefix(server.prefix);
  }
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await response.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  expect(body.status).toBe('success');
  return body.data.result;
}

test.skipIf(!prometheusBinary)('Prometheus scrapes /metrics and reports sluice_jobs_total', async () => {
  for (let i = 0; i < JOBS; i++) {
    const response = await server.request('/api/v1/jobs', { method: 'POST', json: { type: 'echo', data: { message: `scrape ${i}` } } });
    expect(response.status).toBe(201);
  }

  try {
    const result = await waitUntil(
      `Prometheus to report sum(sluice_jobs_total) = ${JOBS}`,
      async () => {
        const rows = await query('sum(sluice_jobs_total)');
        return Number(rows[0]?.value[1]) === JOBS && rows;
      },
      45_000,
      500,
    );
    expect(Number(result[0]!.value[1])).toBe(JOBS);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- prometheus output ---\n${prometheusOutput.slice(-4000)}`);
  }

  const byStatus = await query('sluice_jobs_total');
  expect(byStatus).toHaveLength(1);
  expect(byStatus[0]!.metric).toMatchObject({ __name__: 'sluice_jobs_total', job: 'sluice', type: 'echo', status: 'completed' });

  // The target is healthy: the token in the scrape config was accepted.
  const targets = (await (await fetch(`${prometheusUrl}/api/v1/targets`)).json()) as { data: { activeTargets: { health: string; lastError: string }[] } };
  expect(targets.data.activeTargets.map((t) => ({ health: t.health, lastError: t.lastError }))).toEqual([{ health: 'up', lastError: '' }]);
});
