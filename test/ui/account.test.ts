// Two-factor authentication in the web UI, in a real browser (Debian's chromium driven by
// playwright-core): an administrator who must have it is led to set it up before anything
// else; a user sets it up from the QR code's secret shown on the page (codes computed here),
// keeps the recovery codes, logs in with password and code, with a recovery code (once), is
// refused a wrong code with a message, renews the recovery codes, turns it off, and changes
// their password. The set-up page goes to docs/screenshots/two-factor.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, expect, startAuthRegistry, type Credentials } from '../helpers/api.js';
import { base32Decode, hotp, totpStep, TOTP_PERIOD_SECONDS } from '../../src/auth/totp.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const SHOTS = resolve(dirname(fileURLToPath(import.meta.url)), '../../../docs/screenshots');
const WRONG_CODE = /That code is wrong, used already or expired/;

/**
 * An authenticator app for one secret. The server accepts each step once and none before the
 * last accepted, within one step of now: every code is of a later step than the one before,
 * waiting for the clock when that would be more than one step ahead.
 */
class Phone {
  private last = -Infinity;
  constructor(readonly secret: string) {}
  async code(): Promise<string> {
    for (let i = 0; i < 4; i++) {
      const now = totpStep(Date.now());
      const step = Math.max(this.last + 1, now);
      if (step <= now + 1) {
        this.last = step;
        return hotp(base32Decode(this.secret), step);
      }
      await sleep(TOTP_PERIOD_SECONDS * 1000 - (Date.now() % (TOTP_PERIOD_SECONDS * 1000)) + 50);
    }
    throw new Error('the clock did not move on');
  }
}

/** A six-digit code that is none of the phone's codes of the window (so surely wrong). */
function wrongCode(secret: string): string {
  const now = totpStep(Date.now());
  const valid = new Set([-2, -1, 0, 1, 2].map((d) => hotp(base32Decode(secret), now + d)));
  for (let n = 123456; ; n = (n + 7919) % 1_000_000) {
    const candidate = String(n).padStart(6, '0');
    if (!valid.has(candidate)) return candidate;
  }
}

/** At phone width the page needs no sideways scrolling. */
async function fitsPhone(page: Page): Promise<void> {
  const size = page.viewportSize()!;
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.setViewportSize(size);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than a phone`);
}

async function submitLogin(page: Page, base: string, c: Credentials): Promise<void> {
  await page.goto(`${base}/`);
  await page.getByLabel('Username').fill(c.username);
  await page.getByLabel('Password').fill(c.password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** Log in with password, then, when asked for it, the code. */
async function logInWithCode(page: Page, base: string, c: Credentials, code: string): Promise<void> {
  await submitLogin(page, base, c);
  await page.getByLabel('Authentication code').fill(code);
  await page.getByRole('button', { name: 'Log in' }).click();
}

async function logOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByLabel('Username').waitFor();
}

/** Start the set-up on the account page; the secret shown for typing it in by hand. */
async function startSetUp(page: Page): Promise<string> {
  await page.getByRole('button', { name: 'Set up authenticator app' }).click();
  await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
  const secret = ((await page.locator('.copy').filter({ hasText: 'Secret' }).locator('.copy-value').textContent()) ?? '').trim();
  assert.match(secret, /^[A-Z2-7]{32}$/);
  const qr = await page.getByRole('img', { name: 'QR code for your authenticator app' }).getAttribute('src');
  assert.match(qr ?? '', /^data:image\/svg\+xml;base64,/);
  // The image really renders (the page's Content-Security-Policy allows data: images).
  assert.ok(await page.getByRole('img', { name: 'QR code for your authenticator app' }).evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0));
  return secret;
}

/** Confirm with a first code; the recovery codes shown (once). */
async function confirmSetUp(page: Page, phone: Phone): Promise<string[]> {
  await page.getByLabel('Code from the app').fill(await phone.code());
  await page.getByRole('button', { name: 'Turn on' }).click();
  return readRecoveryCodes(page);
}

async function readRecoveryCodes(page: Page): Promise<string[]> {
  const box = page.getByRole('status', { name: 'Recovery codes' });
  await box.getByText('they are shown only once').waitFor();
  const codes = (await box.locator('ol.codes li').allTextContents()).map((c) => c.trim());
  assert.equal(codes.length, 10);
  for (const c of codes) assert.match(c, /^[a-z2-7]{5}-[a-z2-7]{5}$/);
  return codes;
}

describe('two-factor authentication in the web UI', { skip: existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM} (scripts/install-test-deps.sh installs it)` }, () => {
  let reg: TestRegistry;
  let browser: Browser;
  let adminCodes: string[] = [];
  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    reg = await startAuthRegistry({ mfa: { requireForAdmins: true } });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  });
  after(async () => {
    await browser?.close();
    await reg?.close();
  });

  test('an administrator who must have a second factor is led to set it up first, then has every page', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await submitLogin(page, reg.url, ADMIN);
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    assert.match(new URL(page.url()).pathname, /^\/account$/);
    await page.getByRole('alert').getByText('Set up two-factor authentication to continue.').waitFor();
    assert.equal(await page.getByRole('navigation', { name: 'Main' }).count(), 0, 'no links to pages that would refuse');
    assert.equal(await page.getByRole('form', { name: 'Change password' }).count(), 0);
    // Any other page leads back here.
    await page.goto(`${reg.url}/admin/users`);
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    assert.match(new URL(page.url()).pathname, /^\/account$/);

    const secret = await startSetUp(page);
    await page.getByLabel('Code from the app').waitFor();
    await page.screenshot({ path: `${SHOTS}/two-factor.png`, fullPage: true });
    adminCodes = await confirmSetUp(page, new Phone(secret));
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await page.getByText('Recovery codes left: 10').waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
    assert.equal(await page.getByText('Set up two-factor authentication to continue.').count(), 0);
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    await page.locator('ul.plain li').filter({ hasText: 'admin' }).first().waitFor();
    assert.equal(await page.getByRole('alert').count(), 0, 'the API answers the page');
    await page.close();
  });

  test('a user sets up an authenticator app, logs in with codes and a recovery code, renews the codes and turns it off', async () => {
    // The administrator, now with a second factor, makes the account (a recovery code as the code).
    expect(await api(reg, 'POST', '/users', { as: ADMIN, headers: { 'X-Registry-OTP': adminCodes.pop()! }, body: { username: 'maria', password: 'maria-password-1' } }), 201);
    const maria = { username: 'maria', password: 'maria-password-1' };
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await submitLogin(page, reg.url, maria);
    await page.getByRole('heading', { name: 'Repositories' }).waitFor();
    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByText('Logins ask only for your password.').waitFor();

    const phone = new Phone(await startSetUp(page));
    await fitsPhone(page);
    // A wrong first code is refused, and the set-up stays open.
    await page.getByLabel('Code from the app').fill(wrongCode(phone.secret));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByRole('form', { name: 'Confirm the authenticator app' }).getByRole('alert').waitFor();
    const recovery = await confirmSetUp(page, phone);
    await fitsPhone(page);
    // Download as text: every code in the file.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download as text' }).click()]);
    const saved = readFileSync((await download.path())!, 'utf8');
    for (const c of recovery) assert.ok(saved.includes(c), `${c} is in the downloaded file`);
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await page.getByText('Recovery codes left: 10').waitFor();
    // Shown once: gone after a reload.
    await page.reload();
    await page.getByText('Recovery codes left: 10').waitFor();
    assert.equal(await page.getByText(recovery[0]!).count(), 0);
    await logOut(page);

    // Password, then the code the page asks for.
    await submitLogin(page, reg.url, maria);
    await page.getByText('This account uses two-factor authentication').waitFor();
    await page.getByLabel('Authentication code').fill(await phone.code());
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Repositories' }).waitFor();
    await logOut(page);

    // A wrong code: refused with a message, and the form still asks for one.
    await logInWithCode(page, reg.url, maria, wrongCode(phone.secret));
    await page.getByRole('alert').getByText(WRONG_CODE).waitFor();
    await page.getByLabel('Authentication code').fill(await phone.code());
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Repositories' }).waitFor();
    await logOut(page);

    // A recovery code logs in once; the second time it is refused.
    const used = recovery.pop()!;
    await logInWithCode(page, reg.url, maria, used);
    await page.getByRole('heading', { name: 'Repositories' }).waitFor();
    await logOut(page);
    await logInWithCode(page, reg.url, maria, used);
    await page.getByRole('alert').getByText(WRONG_CODE).waitFor();
    await page.getByLabel('Authentication code').fill(recovery.pop()!);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Repositories' }).waitFor();

    // New recovery codes (with a code from the app): the old ones stop working.
    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByText('Recovery codes left: 8').waitFor();
    const renew = page.getByRole('form', { name: 'New recovery codes' });
    await renew.getByLabel('Authentication code').fill(wrongCode(phone.secret));
    await renew.getByRole('button', { name: 'Generate new recovery codes' }).click();
    await renew.getByRole('alert').getByText(WRONG_CODE).waitFor();
    await renew.getByLabel('Authentication code').fill(await phone.code());
    await renew.getByRole('button', { name: 'Generate new recovery codes' }).click();
    const renewed = await readRecoveryCodes(page);
    assert.equal(renewed.filter((c) => recovery.includes(c)).length, 0);
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await page.getByText('Recovery codes left: 10').waitFor();
    const oldCode = await api(reg, 'GET', '/me', { as: maria, headers: { 'X-Registry-OTP': recovery.pop()! } });
    expect(oldCode, 401, 'UNAUTHORIZED');

    // Turning it off takes a code too.
    const off = page.getByRole('form', { name: 'Turn off two-factor authentication' });
    await off.getByLabel('Authentication code').fill(wrongCode(phone.secret));
    await off.getByRole('button', { name: 'Turn off' }).click();
    await off.getByRole('alert').getByText(WRONG_CODE).waitFor();
    await off.getByLabel('Authentication code').fill(renewed.pop()!);
    await off.getByRole('button', { name: 'Turn off' }).click();
    await page.getByText('Logins ask only for your password.').waitFor();
    await logOut(page);
    await submitLogin(page, reg.url, maria);
    await page.getByRole('heading', { name: 'Repositories' }).waitFor();

    // The password, on the same page.
    await page.getByRole('link', { name: 'Account' }).click();
    const change = page.getByRole('form', { name: 'Change password' });
    await change.getByLabel('New password').fill('maria-password-2');
    await change.getByLabel('Repeat it').fill('maria-password-3');
    await change.getByRole('button', { name: 'Change password' }).click();
    await change.getByText('The two passwords differ.').waitFor();
    await change.getByLabel('New password').fill('maria-password-2');
    await change.getByLabel('Repeat it').fill('maria-password-2');
    await change.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('status').getByText('Password changed.').waitFor();
    expect(await api(reg, 'GET', '/me', { as: { username: 'maria', password: 'maria-password-2' } }), 200);
    expect(await api(reg, 'GET', '/me', { as: maria }), 401, 'UNAUTHORIZED');
    await page.close();
  });
});
