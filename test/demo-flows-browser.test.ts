import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import type { Browser, BrowserContext, ConsoleMessage, Page } from 'playwright-core';
import { browserSkip, launchChromium, startBrowserTestServer } from './helpers/browser.ts';
import { PASSWORD, type TestServer } from './helpers/server.ts';

// The demo page's flows in real Chromium against a real standalone server in demo mode: the device
// list following other devices, "log out everywhere", the welcome banner, a console-clean anonymous
// visit, the resource service (@tessera/verify) refusing a revoked token with the feed's lag, and the
// account flows through the demo inbox (password reset, email verification, magic link, two-factor).
const skip = browserSkip();
let t: TestServer;
let browser: Browser;
let shots: string;

const TOTP_PERIOD_MS = 30_000;

/** The code of `secret` for the 30-second step `step` (the real clock: the server runs on it). */
function totpAt(secret: string, step: number): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: step * TOTP_PERIOD_MS });
}

/** A page that records console errors and uncaught exceptions. */
async function openPage(context: BrowserContext): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message: ConsoleMessage) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${t.url}/`);
  await page.waitForSelector('#signed-out:not([hidden]), #signed-in:not([hidden])');
  return { page, errors };
}

async function register(page: Page, email: string, device: string): Promise<void> {
  await page.fill('#register-form input[name=email]', email);
  await page.fill('#register-form input[name=password]', PASSWORD);
  await page.fill('#register-form input[name=device_name]', device);
  await page.click('#register-form button');
  await page.waitForFunction((expected) => document.querySelector('#who')?.textContent === expected, email);
}

async function logIn(page: Page, email: string, password: string, device: string): Promise<void> {
  await page.fill('#login-form input[name=email]', email);
  await page.fill('#login-form input[name=password]', password);
  await page.fill('#login-form input[name=device_name]', device);
  await page.click('#login-form button');
}

async function waitForMessage(page: Page, pattern: RegExp): Promise<string> {
  const handle = await page.waitForFunction(
    (source) => {
      const text = document.querySelector('#message')?.textContent ?? '';
      return new RegExp(source).test(text) ? text : null;
    },
    pattern.source,
    { timeout: 10_000 },
  );
  return (await handle.jsonValue()) as string;
}

/** Opens the newest inbox link of `type` for `email` (the inbox polls every two seconds). */
async function openInboxLink(page: Page, type: string, email: string): Promise<void> {
  const link = page.locator(`#inbox-events li[data-type="${type}"]`, { hasText: email }).first().locator('a');
  await link.waitFor({ timeout: 10_000 });
  await link.click();
}

/** Calls the resource service until its answer matches `pattern` (a revocation takes milliseconds to arrive). */
async function callResourceUntil(page: Page, pattern: RegExp): Promise<string> {
  let status = '';
  for (let attempt = 0; attempt < 50 && !pattern.test(status); attempt += 1) {
    await page.evaluate(() => {
      (document.querySelector('#api-result') as HTMLElement).textContent = '';
    });
    await page.click('#call-api');
    await page.waitForFunction(() => (document.querySelector('#api-result')?.textContent ?? '') !== '');
    status = (await page.textContent('#resource-status')) ?? '';
  }
  return status;
}

const sessionCount = (page: Page, count: number) =>
  page.waitForFunction((n) => document.querySelectorAll('#sessions li').length === n, count, {
    timeout: 10_000,
  });

describe('demo page flows in Chromium', { skip }, () => {
  before(async () => {
    // Minute-long access tokens: a revoked token is still unexpired when the resource service sees it.
    t = await startBrowserTestServer('60s');
    browser = await launchChromium();
    shots = mkdtempSync(join(tmpdir(), 'tessera-demo-shots-'));
  });
  after(async () => {
    await browser?.close();
    await t?.close();
    if (shots) rmSync(shots, { recursive: true, force: true });
  });

  it('loads anonymously without a console error; the welcome banner stays dismissed', async () => {
    const context = await browser.newContext();
    const { page, errors } = await openPage(context);
    await page.waitForFunction(
      () =>
        (document.querySelector('#inbox-note')?.textContent ?? '') !== '' ||
        document.querySelectorAll('#inbox-events li').length > 0,
    );
    assert.equal(await page.isVisible('#welcome'), true);
    // Only the sign-in forms: no second-factor field until an account asks for one.
    assert.equal(await page.isVisible('#login-form'), true);
    assert.equal(await page.isVisible('#second-factor'), false);
    assert.equal(await page.isVisible('#reset-form'), false);
    assert.match(await page.innerText('body'), /Welcome to the Tessera demo/);
    await page.click('#welcome-dismiss');
    assert.equal(await page.isVisible('#welcome'), false);
    await page.reload();
    await page.waitForSelector('#signed-out:not([hidden])');
    assert.equal(await page.isVisible('#welcome'), false);
    assert.doesNotMatch(await page.innerText('body'), /Welcome to the Tessera demo/);
    // No silent refresh without a session: no 400 from /auth/refresh, nothing in the console.
    assert.deepEqual(errors, []);
    await context.close();
  });

  it('follows other devices without a reload, shows the resource service refusing a revoked token with the lag, and says "every device"', async () => {
    const email = `devices${Date.now()}@example.com`;
    const laptop = await browser.newContext();
    const { page } = await openPage(laptop);
    await register(page, email, 'Laptop');
    await sessionCount(page, 1);
    assert.match(
      await callResourceUntil(page, /Accepted/),
      /Accepted \(200\): verified locally by @tessera\/verify/,
    );

    // A second device signs in: the first page lists it by itself, and drops it when it logs out.
    const phone = await browser.newContext();
    const { page: phonePage } = await openPage(phone);
    await logIn(phonePage, email, PASSWORD, 'Phone');
    await phonePage.waitForSelector('#signed-in:not([hidden])');
    await sessionCount(page, 2);
    assert.match(await page.innerText('#sessions'), /Phone/);
    await phonePage.click('#logout');
    await phonePage.waitForSelector('#signed-out:not([hidden])');
    await sessionCount(page, 1);
    assert.doesNotMatch(await page.innerText('#sessions'), /Phone/);

    // The phone signs in again and ends the laptop's session from its own device list.
    await logIn(phonePage, email, PASSWORD, 'Phone');
    await phonePage.waitForSelector('#signed-in:not([hidden])');
    await sessionCount(phonePage, 2);
    await phonePage.click('#sessions li:has-text("Laptop") .end-session');
    await sessionCount(phonePage, 1);

    // The laptop's access token has not expired, yet the resource service refuses it: the revocation
    // reached its verifier through the feed, and the page shows how long that took.
    const refused = await callResourceUntil(page, /Refused/);
    assert.match(refused, /^Refused \(401\): The session of this token has ended\./);
    const lag = /reached the resource service (\d+) ms after it happened/.exec(refused);
    assert.ok(lag, refused);
    assert.ok(Number(lag[1]) < 5000, `lag ${lag[1]} ms`);
    // And the laptop's page learns it was signed out, by itself.
    await page.waitForSelector('#signed-out:not([hidden])', { timeout: 10_000 });
    assert.match(await page.innerText('#message'), /session was ended/i);

    await phonePage.click('#logout-all');
    await phonePage.waitForSelector('#signed-out:not([hidden])');
    assert.equal(await phonePage.innerText('#message'), 'You logged out on every device.');
    await phone.close();
    await laptop.close();
  });

  it('resets a forgotten password through the inbox', async () => {
    const email = `reset${Date.now()}@example.com`;
    const context = await browser.newContext();
    const { page, errors } = await openPage(context);
    await register(page, email, 'Desk');
    await page.click('#logout');
    await page.waitForSelector('#signed-out:not([hidden])');

    await page.fill('#forgot-form input[name=email]', email);
    await page.click('#forgot-form button');
    await waitForMessage(page, /reset link is on its way/);
    await openInboxLink(page, 'password_reset.requested', email);
    await page.waitForSelector('#reset-form:not([hidden])');
    // The token left the address bar.
    assert.equal(new URL(page.url()).hash, '');
    await page.fill('#reset-form input[name=new_password]', 'a brand new passphrase');
    await page.click('#reset-form button');
    await waitForMessage(page, /password is set/);

    await logIn(page, email, PASSWORD, 'Desk');
    await waitForMessage(page, /incorrect|invalid|wrong/i);
    await logIn(page, email, 'a brand new passphrase', 'Desk');
    await page.waitForSelector('#signed-in:not([hidden])');
    // The same link cannot be used twice.
    await openInboxLink(page, 'password_reset.requested', email);
    await page.fill('#reset-form input[name=new_password]', 'yet another passphrase');
    await page.click('#reset-form button');
    await waitForMessage(page, /token|link/i);
    assert.deepEqual(
      errors.filter((e) => !/status of 40[01]/.test(e)),
      [],
    );
    await context.close();
  });

  it('verifies the email address through the inbox', async () => {
    const email = `verify${Date.now()}@example.com`;
    const context = await browser.newContext();
    const { page } = await openPage(context);
    await register(page, email, 'Desk');
    await page.waitForFunction(
      () => document.querySelector('#verified')?.textContent === 'email not verified',
    );
    await page.click('#verify-request');
    await waitForMessage(page, /Verification email sent/);
    await openInboxLink(page, 'email_verification.requested', email);
    await waitForMessage(page, new RegExp(`Email verified: ${email.replace('.', '\\.')}`));
    await page.waitForFunction(() => document.querySelector('#verified')?.textContent === 'email verified');
    assert.equal(await page.isVisible('#verify-request'), false);
    await context.close();
  });

  it('signs in with a magic link from the inbox', async () => {
    const email = `magic${Date.now()}@example.com`;
    const context = await browser.newContext();
    const { page } = await openPage(context);
    await register(page, email, 'Desk');
    await page.click('#logout');
    await page.waitForSelector('#signed-out:not([hidden])');
    await page.fill('#magic-form input[name=email]', email);
    await page.click('#magic-form button');
    await waitForMessage(page, /sign-in link is on its way/);
    await openInboxLink(page, 'magic_link.requested', email);
    await page.waitForFunction((expected) => document.querySelector('#who')?.textContent === expected, email);
    await waitForMessage(page, /Signed in with the link/);
    await context.close();
  });

  it('turns on two-factor sign-in, signs in with a code and with a recovery code, and turns it off', async () => {
    const email = `totp${Date.now()}@example.com`;
    const context = await browser.newContext();
    const { page } = await openPage(context);
    await register(page, email, 'Desk');
    await page.waitForFunction(() => document.querySelector('#mfa-status')?.textContent?.startsWith('Off'));
    await page.click('#mfa-enroll');
    await page.waitForSelector('#mfa-setup:not([hidden])');
    const secret = (await page.textContent('#totp-secret')) ?? '';
    assert.match(secret, /^[A-Z2-7]{32}$/);
    assert.match((await page.textContent('#totp-uri')) ?? '', /^otpauth:\/\/totp\//);

    // Each step is accepted once and only after the last one used, within now ±1 step: confirm with one
    // step and sign in with the next, both inside the window for the next 20 seconds at least.
    const nowMs = Date.now();
    const first = Math.floor(nowMs / TOTP_PERIOD_MS) - (nowMs % TOTP_PERIOD_MS < 10_000 ? 1 : 0);
    await page.fill('#mfa-confirm-form input[name=code]', totpAt(secret, first));
    await page.click('#mfa-confirm-form button');
    await page.waitForFunction(() => document.querySelectorAll('#recovery-codes li').length === 10);
    const codes = await page.$$eval('#recovery-codes li', (items) =>
      items.map((item) => item.textContent ?? ''),
    );
    assert.match(await page.innerText('#recovery'), /shown once/);
    await page.waitForFunction(() => document.querySelector('#mfa-status')?.textContent?.startsWith('On'));

    await page.click('#logout');
    await page.waitForSelector('#signed-out:not([hidden])');
    assert.equal(await page.isVisible('#second-factor'), false);
    await logIn(page, email, PASSWORD, 'Desk');
    await waitForMessage(page, /two-factor sign-in/);
    assert.equal(await page.isVisible('#second-factor'), true);
    await page.fill('#login-form input[name=code]', totpAt(secret, first + 1));
    await page.click('#login-form button');
    await page.waitForSelector('#signed-in:not([hidden])');
    // The resource service sees a token of a two-factor sign-in (RFC 8176 amr).
    await callResourceUntil(page, /Accepted/);
    assert.match((await page.textContent('#api-result')) ?? '', /"otp"[\s\S]*"mfa"/);

    await page.click('#logout');
    await page.waitForSelector('#signed-out:not([hidden])');
    await logIn(page, email, PASSWORD, 'Desk');
    await waitForMessage(page, /two-factor sign-in/);
    await page.fill('#login-form input[name=code]', codes[0] as string);
    await page.click('#login-form button');
    await page.waitForSelector('#signed-in:not([hidden])');
    await page.waitForFunction(() =>
      document.querySelector('#mfa-status')?.textContent?.includes('9 recovery codes left'),
    );

    await page.fill('#mfa-disable-form input[name=code]', codes[1] as string);
    await page.click('#mfa-disable-form button');
    await waitForMessage(page, /Two-factor sign-in is off/);
    await page.waitForFunction(() => document.querySelector('#mfa-status')?.textContent?.startsWith('Off'));
    await page
      .locator('#inbox-events li[data-type="mfa.disabled"]', { hasText: email })
      .waitFor({ timeout: 10_000 });

    // The final page, as a person sees it: a screenshot, and its visible text.
    const shot = join(shots, 'demo-final.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 10_000);
    const visible = await page.innerText('body');
    assert.match(visible, new RegExp(`Signed in as ${email.replace('.', '\\.')}`));
    assert.match(visible, /Two-factor sign-in is off\./);
    assert.match(visible, /Off: sign-in asks for your password only\./);
    assert.match(visible, /mfa\.disabled/);
    assert.doesNotMatch(visible, /Your recovery codes, shown once/);
    await context.close();
  });
});
