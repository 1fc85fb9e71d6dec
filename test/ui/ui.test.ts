// The web UI end to end in a real browser (Debian's chromium driven by playwright-core)
// against a registry filled with real pushes: log in, find an image, open its manifest and an
// index's platforms, create a robot token (and use it), add a retention policy and preview it,
// see those actions in the audit log; a reader sees no admin pages (and the API refuses them);
// phone width; keyboard navigation of the repository list. Screenshots go to docs/screenshots.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { TestRegistry } from '../helpers/registry.js';
import { ADMIN, basic, startTeamRegistry, type Credentials } from '../helpers/api.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { pushBuiltImage, pushPlatformIndex, pushSignatureArtifact } from '../helpers/images.js';
import { pushImage } from '../helpers/oci.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/** docs/screenshots of the checkout (tests run from dist/test/ui). */
const SHOTS = resolve(dirname(fileURLToPath(import.meta.url)), '../../../docs/screenshots');
const EXTRA_REPOSITORIES = 55;

async function shot(page: Page, name: string, fullPage = true): Promise<void> {
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage });
}

async function logIn(page: Page, base: string, c: Credentials): Promise<void> {
  await page.goto(`${base}/`);
  await page.getByLabel('Username').fill(c.username);
  await page.getByLabel('Password').fill(c.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Repositories' }).waitFor();
}

describe('web UI in a browser', { skip: existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM} (scripts/install-test-deps.sh installs it)` }, () => {
  let reg: TestRegistry;
  let owner: Credentials;
  let reader: Credentials;
  let browser: Browser;
  let receiver: Server;
  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    // A webhook receiver on loopback, which the allow-list lets webhooks reach.
    receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((res) => receiver.listen(0, '127.0.0.1', res));
    ({ reg, owner, reader } = await startTeamRegistry({ webhooks: { allowedHosts: ['127.0.0.1'], pollMs: 100 } }));
    const headers = { Authorization: basic(owner) };
    const v1 = await pushBuiltImage(reg.url, 'team/app', 'v1', { labels: { 'org.opencontainers.image.title': 'app', 'org.opencontainers.image.source': 'https://example.org/app' }, layerSizes: [4096, 81920], headers });
    await pushBuiltImage(reg.url, 'team/app', 'v2', { headers });
    await pushSignatureArtifact(reg.url, 'team/app', v1, headers);
    await pushPlatformIndex(reg.url, 'team/multi', 'latest', headers);
    for (let i = 0; i < EXTRA_REPOSITORIES; i++) await pushImage(reg.url, `team/svc-${String(i).padStart(2, '0')}`, { reference: 'main', headers });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  });
  after(async () => {
    await browser?.close();
    receiver?.close();
    await reg?.close();
  });

  test('an administrator logs in, finds an image, opens its manifest and an index', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await logIn(page, reg.url, ADMIN);
    await page.getByText(`1–50 of ${EXTRA_REPOSITORIES + 2}`).waitFor();
    await shot(page, 'repositories');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByText(`51–${EXTRA_REPOSITORIES + 2} of ${EXTRA_REPOSITORIES + 2}`).waitFor();

    await page.getByLabel('Search').fill('app');
    await page.getByText('1–1 of 1').waitFor();
    await page.getByRole('link', { name: /team\/app/ }).click();
    await page.getByRole('heading', { name: 'team/app' }).waitFor();
    const rows = page.locator('table tbody tr');
    await rows.nth(1).waitFor();
    assert.equal(await rows.count(), 2);
    assert.match((await rows.first().textContent()) ?? '', /v1.*sha256:.*8\d\.\d KB.*linux\/amd64.*by olivia/);
    assert.match((await page.locator('.pull').textContent()) ?? '', new RegExp(`docker pull ${reg.host}/team/app:v1`));
    await shot(page, 'repository');

    await page.getByRole('link', { name: 'v1', exact: true }).click();
    await page.getByRole('heading', { name: 'Layers' }).waitFor();
    const text = (await page.locator('main').textContent()) ?? '';
    assert.match(text, /4\.1 KB/);
    assert.match(text, /81\.9 KB/);
    assert.match(text, /org\.opencontainers\.image\.source/);
    assert.match(text, /COPY app \/app/);
    assert.match(text, /signature/);
    assert.match(text, new RegExp(`docker pull ${reg.host}/team/app@sha256:`));
    await shot(page, 'manifest');

    await page.goto(`${reg.url}/r/team/multi/-/latest`);
    await page.getByRole('heading', { name: 'Platforms' }).waitFor();
    await page.getByRole('link', { name: 'linux/arm64' }).click();
    await page.getByText('linux/arm64', { exact: true }).waitFor();
    assert.match(page.url(), /\/r\/team\/multi\/-\/sha256:/);

    // Promote the multi-arch image to another repository from its page.
    await page.goto(`${reg.url}/r/team/multi/-/latest`);
    const promote = page.getByRole('form', { name: 'Promote' });
    await promote.getByLabel('Target repository').fill('team/multi-stable');
    await promote.getByLabel('Tag', { exact: true }).fill('stable');
    await promote.getByRole('button', { name: 'Promote' }).click();
    await page.getByRole('status').filter({ hasText: 'Promoted to team/multi-stable:stable' }).waitFor();
    const promoted = await fetch(`${reg.url}/v2/team/multi-stable/manifests/stable`, { method: 'HEAD', headers: { Authorization: `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`, Accept: 'application/vnd.oci.image.index.v1+json' } });
    assert.equal(promoted.status, 200);

    await page.goto(`${reg.url}/namespaces/team/quota`);
    await page.getByLabel('Storage limit (GB)').fill('0.01');
    await page.getByRole('button', { name: 'Set limits' }).click();
    await page.getByText(/Storage: .* of 10\.0 MB \(\d+%\)/).waitFor();
    await shot(page, 'quota');
    await page.close();
  });

  test('an owner creates a robot token (shown once, and it works) and previews a retention policy; the audit log shows both', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await logIn(page, reg.url, owner);
    await page.goto(`${reg.url}/namespaces/team/robots`);
    const form = page.getByRole('form', { name: 'Create a robot token' });
    await form.getByLabel('Name').fill('ci');
    await form.getByRole('button', { name: 'Create' }).click();
    await page.getByText('it is shown only once').waitFor();
    const secret = (await page.locator('.secret .copy-value').nth(1).textContent())!;
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    await shot(page, 'robots');
    const tags = await fetch(`${reg.url}/v2/team/app/tags/list`, { headers: { Authorization: basic({ username: 'robot$team+ci', password: secret }) } });
    assert.equal(tags.status, 200);
    // Once the page is left, the secret is gone for good.
    await page.reload();
    await page.getByText('robot$team+ci').waitFor();
    assert.equal(await page.getByText(secret).count(), 0);

    // A webhook: added (its secret shown once), pinged, and the delivery is in its log.
    await page.getByRole('link', { name: 'Webhooks' }).click();
    const hook = page.getByRole('form', { name: 'Add a webhook' });
    await hook.getByLabel('URL').fill(`http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`);
    await hook.getByRole('button', { name: 'Add webhook' }).click();
    await page.getByText('Signing secret (shown once)').waitFor();
    await page.getByRole('button', { name: 'Ping' }).click();
    const deliveries = page.getByRole('table', { name: 'Deliveries' });
    for (let i = 0; i < 50 && !/204/.test((await deliveries.textContent().catch(() => '')) ?? ''); i++) {
      await sleep(200);
      await page.getByRole('button', { name: 'Refresh' }).click();
    }
    assert.match((await deliveries.textContent()) ?? '', /ping.*delivered.*204/);

    await page.getByRole('link', { name: 'Retention' }).click();
    const policy = page.getByRole('form', { name: 'Add a retention policy' });
    await policy.getByLabel('Repositories').fill('app');
    await policy.getByLabel('Keep latest').fill('1');
    await policy.getByRole('button', { name: 'Add policy' }).click();
    await page.getByRole('button', { name: 'Preview (dry run)' }).click();
    await page.getByText(/Would remove 1 tags/).waitFor();
    await shot(page, 'retention');
    await page.getByRole('link', { name: 'Quota' }).click();
    await page.getByText(/Storage: .* \(no limit\)/).waitFor();
    await page.close();

    const admin = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await logIn(admin, reg.url, ADMIN);
    await admin.getByRole('link', { name: 'Audit log' }).click();
    await admin.getByRole('table', { name: 'Audit events' }).waitFor();
    const log = (await admin.locator('table').textContent()) ?? '';
    assert.match(log, /olivia.*retention-policy\.create/s);
    assert.match(log, /olivia.*robot\.create/s);
    assert.match(log, /login/);
    await shot(admin, 'audit');
    await admin.getByRole('button', { name: 'Log out' }).click();
    await admin.getByRole('button', { name: 'Log in' }).waitFor();
    await admin.close();
  });

  test('a reader sees no admin pages, and the API refuses them anyway', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await logIn(page, reg.url, reader);
    const nav = (await page.getByRole('navigation', { name: 'Main' }).textContent()) ?? '';
    assert.doesNotMatch(nav, /Users|Audit|System/);
    for (const path of ['/admin/users', '/admin/audit']) {
      await page.goto(`${reg.url}${path}`);
      await page.getByText('Not available.').waitFor();
    }
    await page.goto(`${reg.url}/namespaces/team`);
    await page.getByText('your role: reader').waitFor();
    assert.equal(await page.getByRole('link', { name: 'Robot tokens' }).count(), 0);
    assert.equal(await page.getByRole('form', { name: 'Add a member' }).count(), 0);
    // Even a hand-made request from the page, with the session's CSRF token, is refused.
    const statuses = await page.evaluate(async () => {
      const session = (await (await fetch('/api/v1/session')).json()) as { csrfToken: string };
      const headers = { 'Content-Type': 'application/json', 'X-CSRF-Token': session.csrfToken };
      const users = await fetch('/api/v1/users');
      const robot = await fetch('/api/v1/namespaces/team/robots', { method: 'POST', headers, body: JSON.stringify({ name: 'sneaky', actions: ['pull'] }) });
      return [users.status, robot.status];
    });
    assert.deepEqual(statuses, [403, 403]);
    await page.close();
  });

  test('phone width: the list fits without sideways scrolling; arrow keys walk the list', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await logIn(page, reg.url, reader);
    await page.locator('a.repo-link').first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the page is ${overflow}px wider than the screen`);
    await shot(page, 'phone', false);
    await page.goto(`${reg.url}/r/team/app/-/v1`);
    await page.getByRole('heading', { name: 'Layers' }).waitFor();
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)) <= 1, 'manifest page overflows');
    await page.close();

    const desk = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await logIn(desk, reg.url, reader);
    await desk.locator('a.repo-link').first().waitFor();
    await desk.getByLabel('Search').focus();
    // Tab leaves the search box, passes the sort selector and lands on the first repository.
    await desk.keyboard.press('Tab');
    await desk.keyboard.press('Tab');
    assert.match((await desk.evaluate(() => document.activeElement?.textContent)) ?? '', /^team\/app2 tags/);
    await desk.keyboard.press('ArrowDown');
    assert.match((await desk.evaluate(() => document.activeElement?.textContent)) ?? '', /^team\/multi/);
    await desk.keyboard.press('ArrowUp');
    await desk.keyboard.press('ArrowDown');
    await desk.keyboard.press('Enter');
    await desk.getByRole('heading', { name: 'team/multi' }).waitFor();
    await desk.close();
  });
});
