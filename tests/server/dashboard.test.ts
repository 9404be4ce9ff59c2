/** Bull Board in a real headless Chromium: assets load, the `jobs` queue is listed, a failed job shows its error, schedulers show. */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from './helpers/postgres.ts';
import { deletePrefix, REPO_ROOT, SERVER_HOOK_TIMEOUT_MS, spawnServer, type ServerProcess } from './helpers/server-process.ts';
import { waitUntil } from './helpers/wait.ts';

setDefaultTimeout(90_000);

const chromiumBinary = Bun.which('chromium') ?? Bun.which('chromium-browser');
if (!chromiumBinary) process.stderr.write('[dashboard.test] SKIP: no chromium binary (apt-get install chromium; .ci/run installs it)\n');

const OUTPUT_DIR = resolve(REPO_ROOT, 'tests/output');
const USER = 'admin';
const PASSWORD = 'dashboard-pass-7d1e';
const authorization = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

let db: TestDatabase;
let server: ServerProcess;
let context: BrowserContext;
let failedJobId: string;
const profileDir = mkdtempSync(join(tmpdir(), 'sluice-chromium-'));

beforeAll(async () => {
  if (!chromiumBinary) return;
  db = await createTestDatabase('dashboard');
  server = await spawnServer({ label: 'dashboard', authorization, env: { ...db.env, WORKER_COUNT: '1', ADMIN_USER: USER, ADMIN_PASSWORD: PASSWORD } });

  const submit = async (data: unknown) => {
    const response = await server.request('/api/v1/jobs', { method: 'POST', json: { type: 'echo', data, attempts: 1 } });
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: string }).id;
  };
  await submit({ message: 'this one works' });
  failedJobId = await submit({ message: 'this one breaks', failPermanently: true });
  const schedule = await server.request('/api/v1/jobs/schedules/nightly-echo', { method: 'PUT', json: { type: 'echo', data: { message: 'nightly' }, pattern: '0 3 * * *' } });
  expect(schedule.status).toBe(200);
  await waitUntil('the failing job to fail', async () => ((await (await server.request(`/api/v1/jobs/${failedJobId}`)).json()) as any).state === 'failed');

  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: chromiumBinary,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    httpCredentials: { username: USER, password: PASSWORD },
    viewport: { width: 1400, height: 900 },
  });
}, SERVER_HOOK_TIMEOUT_MS);

afterAll(async () => {
  await context?.close();
  if (server) {
    await server.stop();
    await deletePrefix(server.prefix);
  }
  await db?.drop();
  rmSync(profileDir, { recursive: true, force: true });
});

/** Same-origin responses the page made, to prove its scripts and styles loaded. */
function recordResponses(page: Page, origin: string) {
  const seen: { url: string; status: number; type: string }[] = [];
  page.on('response', (response) => {
    if (response.url().startsWith(origin)) seen.push({ url: response.url(), status: response.status(), type: response.request().resourceType() });
  });
  return seen;
}

test.skipIf(!chromiumBinary)('the dashboard is guarded: without credentials the page is a 401', async () => {
  const response = await fetch(`${server.url}/admin/queues`);
  expect(response.status).toBe(401);
  expect(response.headers.get('www-authenticate')).toStartWith('Basic');
});

test.skipIf(!chromiumBinary)('loads its scripts and styles and lists the jobs queue', async () => {
  const page = await context.newPage();
  const responses = recordResponses(page, server.url);
  await page.goto(`${server.url}/admin/queues`);
  await page.getByRole('link', { name: /^jobs/ }).first().waitFor({ timeout: 20_000 });
  // The overview card of the queue, with its job total, once the queue API has answered.
  await page.locator('main').getByText(/\d+ Jobs/).first().waitFor({ timeout: 20_000 });
  expect(await page.locator('main').innerText()).toContain('jobs');
  mkdirSync(OUTPUT_DIR, { recursive: true });
  await page.screenshot({ path: join(OUTPUT_DIR, 'dashboard-overview.png'), fullPage: true });

  const assets = responses.filter((r) => r.type === 'script' || r.type === 'stylesheet');
  expect(assets.filter((r) => r.type === 'script').length).toBeGreaterThanOrEqual(1);
  expect(assets.filter((r) => r.type === 'stylesheet').length).toBeGreaterThanOrEqual(1);
  expect(assets.filter((r) => r.status !== 200)).toEqual([]);
  // Its API calls went through with the browser's basic-auth credentials.
  expect(responses.filter((r) => r.url.includes('/admin/queues/api/') && r.status !== 200)).toEqual([]);
  await page.close();
});

test.skipIf(!chromiumBinary)("shows a failed job's error", async () => {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  const page = await context.newPage();
  await page.goto(`${server.url}/admin/queues/queue/jobs?status=failed`);
  await page.getByText('echo failing permanently on purpose').first().waitFor({ timeout: 20_000 });
  await page.screenshot({ path: join(OUTPUT_DIR, 'dashboard-failed-job.png'), fullPage: true });
  await page.close();
});

test.skipIf(!chromiumBinary)('shows the Job Schedulers of the queue', async () => {
  const page = await context.newPage();
  await page.goto(`${server.url}/admin/queues/job-schedulers?queueName=jobs`);
  await page.getByText('nightly-echo').first().waitFor({ timeout: 20_000 });
  await page.screenshot({ path: join(OUTPUT_DIR, 'dashboard-job-schedulers.png'), fullPage: true });
  await page.close();
});

test.skipIf(!chromiumBinary)("the dashboard's own writes still work: Retry all on the failed jobs goes through", async () => {
  const page = await context.newPage();
  await page.goto(`${server.url}/admin/queues/queue/jobs?status=failed`);
  await page.getByText('echo failing permanently on purpose').first().waitFor({ timeout: 20_000 });
  const retried = page.waitForResponse((response) => response.request().method() === 'PUT' && response.url().includes('/retry'), { timeout: 20_000 });
  await page.getByRole('button', { name: 'Retry all' }).click();
  await page.getByRole('button', { name: 'Confirm' }).click();
  expect((await retried).status()).toBeLessThan(300);
  // It ran again (and failed again, on purpose): a second attempt in its history.
  await waitUntil('the retried job to fail a second time', async () => {
    const job = (await (await server.request(`/api/v1/jobs/${failedJobId}`)).json()) as any;
    return job.state === 'failed' && job.audit?.length === 2;
  });
  await page.close();
});

test.skipIf(!chromiumBinary)("a page on another origin cannot drive the API with the admin's cached credentials", async () => {
  // What an attacker's page would do: a form that posts itself to the server on load.
  const evil = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: () =>
      new Response(
        `<form method="post" action="${server.url}/api/v1/jobs/queue/pause"><input name="x" value="1"></form><script>document.forms[0].submit()</script>`,
        { headers: { 'content-type': 'text/html' } },
      ),
  });
  try {
    const page = await context.newPage();
    const refused = page.waitForResponse((response) => response.url().endsWith('/api/v1/jobs/queue/pause'), { timeout: 20_000 });
    await page.goto(`http://localhost:${evil.port}/`);
    const response = await refused;
    expect(response.status()).toBe(403);
    expect(((await response.json()) as any).error.code).toBe('CROSS_SITE_REQUEST');
    await page.close();
    const health = (await (await server.request('/api/v1/jobs/health')).json()) as any;
    expect(health.queue.paused).toBe(false);
  } finally {
    evil.stop(true);
  }
});

test.skipIf(!chromiumBinary)('every response forbids framing: the dashboard, its API, the jobs API, a 401 and the probes', async () => {
  const responses = [
    await server.request('/admin/queues/queue/jobs?status=failed'),
    await server.request('/admin/queues/api/queues'),
    await server.request('/api/v1/jobs/stats'),
    await fetch(`${server.url}/admin/queues`),
    await fetch(`${server.url}/health`),
  ];
  for (const response of responses) {
    expect({ url: response.url, xfo: response.headers.get('x-frame-options'), csp: response.headers.get('content-security-policy') }).toEqual({
      url: response.url,
      xfo: 'DENY',
      csp: "frame-ancestors 'none'",
    });
  }
});

test.skipIf(!chromiumBinary)('a page on another origin cannot frame the dashboard (clickjacking): Chromium refuses to show it', async () => {
  const target = `${server.url}/admin/queues/queue/jobs?status=failed`;
  // What an attacker's page would do: frame the failed-jobs view and trick a click on "Clean all" + "Confirm".
  const evil = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: () => new Response(`<h1>win a prize</h1><iframe name="board" src="${target}" width="1200" height="800"></iframe>`, { headers: { 'content-type': 'text/html' } }),
  });
  try {
    const page = await context.newPage();
    // Chromium blocks the frame's very first response (the basic-auth challenge) on its headers.
    const blocked = page.waitForEvent('requestfailed', { predicate: (request) => request.url() === target, timeout: 20_000 });
    const refusal = page.waitForEvent('console', { predicate: (message) => message.text().includes("frame-ancestors 'none'"), timeout: 20_000 });
    await page.goto(`http://localhost:${evil.port}/`);
    expect((await blocked).failure()?.errorText).toBe('net::ERR_BLOCKED_BY_RESPONSE');
    expect((await refusal).text()).toContain(`Framing '${server.url}/' violates`);
    const frame = page.frame({ name: 'board' });
    expect(frame).not.toBeNull();
    expect(frame!.url()).not.toBe(target);
    expect(await frame!.getByRole('button', { name: 'Clean all' }).count()).toBe(0);
    await page.close();
  } finally {
    evil.stop(true);
  }
});

test.skipIf(!chromiumBinary)('"Add job" from the queue menu queues a job that runs; a refused one shows why', async () => {
  const page = await context.newPage();
  await page.goto(`${server.url}/admin/queues/queue/jobs`);
  // The queue's own menu (⋮) is the last of the page's menu buttons, once the queue has loaded.
  const menus = page.locator('button[aria-haspopup="menu"]');
  await waitUntil('the queue menu', async () => (await menus.count()) >= 2);
  const openDialog = async () => {
    await menus.last().click();
    await page.getByRole('menuitem', { name: 'Add job' }).click();
  };
  // The dialog starts from the envelope example ({"data": {"message": ...}}); only the job name is filled in.
  await openDialog();
  await page.getByLabel('Job name').fill('echo');
  const added = page.waitForResponse((response) => response.url().endsWith('/api/queues/jobs/add'), { timeout: 20_000 });
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  const response = await added;
  expect(response.status()).toBe(200);
  const id = ((await response.json()) as any).job.id as string;
  await waitUntil('the job added from the board to complete', async () => ((await (await server.request(`/api/v1/jobs/${id}`)).json()) as any).state === 'completed');

  // Job name left empty: the board sends "__default__", which is no job type.
  await openDialog();
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  await page.getByText('unknown job type "__default__"').first().waitFor({ timeout: 20_000 });
  await page.screenshot({ path: join(OUTPUT_DIR, 'dashboard-add-job-refused.png') });
  await page.close();
});
