// Single sign-on in the web UI, in a real browser (Debian's chromium driven by playwright-core)
// against a real OpenID provider (oidc-provider on loopback): the login form shows the SSO
// button, which leads through the provider's login and consent pages back to the registry,
// logged in as the provider's user with the roles of their groups.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { ADMIN } from '../helpers/api.js';
import { freePort } from '../helpers/proxy.js';
import { startOidcProvider, type TestProvider } from '../helpers/oidc-provider.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

describe('single sign-on in the web UI', { skip: existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM} (scripts/install-test-deps.sh installs it)`, timeout: 120_000 }, () => {
  let provider: TestProvider;
  let reg: TestRegistry;
  let browser: Browser;
  before(async () => {
    const port = await freePort();
    const redirectUrl = `http://127.0.0.1:${port}/api/v1/oidc/callback`;
    provider = await startOidcProvider(redirectUrl, { alice: { username: 'alice', groups: ['team-a-dev'] } });
    reg = await startRegistry({
      http: { port },
      auth: { enabled: true, initialAdminUsername: ADMIN.username, initialAdminPassword: ADMIN.password },
      ui: { secureCookies: 'never' },
      oidc: {
        issuer: provider.issuer,
        clientId: provider.clientId,
        clientSecret: provider.clientSecret,
        redirectUrl,
        scopes: ['openid', 'profile', 'groups'],
        displayName: 'Test IdP',
        roleRules: [{ group: 'team-a-dev', namespace: 'team-a', role: 'developer' }],
      },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  });
  after(async () => {
    await browser?.close();
    await reg?.close();
    await provider?.stop();
  });

  test('the SSO button logs in through the provider', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${reg.url}/login`);
    await page.getByRole('link', { name: 'Log in with Test IdP' }).click();
    // The provider's development login form, then its consent page.
    await page.locator('input[name="login"]').fill('alice');
    await page.locator('input[name="password"]').fill('any');
    await page.locator('button[type="submit"]').click();
    await page.locator('button[type="submit"]').click();
    await page.waitForURL(`${reg.url}/`, { timeout: 20_000 });
    await page.getByText('alice').first().waitFor({ timeout: 10_000 });
    const session = await page.evaluate(async () => (await fetch('/api/v1/session')).json());
    assert.equal(session.user.name, 'alice');
    assert.deepEqual(session.user.namespaces, [{ namespace: 'team-a', role: 'developer' }]);
    await page.close();
  });
});
