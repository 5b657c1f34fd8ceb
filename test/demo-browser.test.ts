import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { browserSkip, launchChromium, startBrowserTestServer } from './helpers/browser.ts';
import { PASSWORD, type TestServer } from './helpers/server.ts';

const skip = browserSkip();
let t: TestServer;
let browser: Browser;

describe('demo page in Chromium', { skip }, () => {
  before(async () => {
    // Three-second access tokens: the page renews every ~2.4 s, so renewals show within the test.
    t = await startBrowserTestServer();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  it('lets a person register, watch silent renewals, manage devices, change password and log out', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${t.url}/`);
    await page.waitForSelector('#signed-out:not([hidden])');
    const email = `demo${Date.now()}@example.com`;
    await page.fill('#register-form input[name=email]', email);
    await page.fill('#register-form input[name=password]', PASSWORD);
    await page.fill('#register-form input[name=device_name]', 'Test laptop');
    await page.click('#register-form button');
    await page.waitForSelector('#signed-in:not([hidden])');
    // The page shows the account once /auth/me answers, a moment after the signed-in view appears.
    await page.waitForFunction((expected) => document.querySelector('#who')?.textContent === expected, email);
    assert.equal(await page.textContent('#who'), email);

    // The refresh token is an HttpOnly, SameSite=Strict cookie scoped to /auth, invisible to script.
    assert.equal(await page.evaluate(() => document.cookie), '');
    const [cookie] = (await context.cookies()).filter((c) => c.name === 'tessera_refresh');
    assert.ok(cookie);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.path, '/auth');

    // Silent renewals keep the session going across several token lifetimes.
    await page.waitForFunction(() => document.querySelectorAll('#renewals li').length >= 2, undefined, {
      timeout: 15_000,
    });
    await page.click('#call-api');
    await page.waitForFunction(() => document.querySelector('#api-result')?.textContent?.startsWith('200'));
    // The protected API is the demo's resource service: it verifies the token with @tessera/verify.
    assert.match((await page.textContent('#api-result')) ?? '', /"verified_by": "@tessera\/verify"/);

    // A second device appears in the list and can be ended from here.
    const phone = await browser.newContext();
    const phonePage = await phone.newPage();
    await phonePage.goto(`${t.url}/`);
    await phonePage.fill('#login-form input[name=email]', email);
    await phonePage.fill('#login-form input[name=password]', PASSWORD);
    await phonePage.fill('#login-form input[name=device_name]', 'Test phone');
    await phonePage.click('#login-form button');
    await phonePage.waitForSelector('#signed-in:not([hidden])');
    // No reload: the device list reads itself again every few seconds.
    await page.waitForFunction(() => document.querySelectorAll('#sessions li').length === 2, undefined, {
      timeout: 10_000,
    });
    await page.click('#sessions li:has-text("Test phone") .end-session');
    await page.waitForFunction(() => document.querySelectorAll('#sessions li').length === 1);
    // The phone learns at its next renewal at the latest.
    await phonePage.waitForSelector('#signed-out:not([hidden])', { timeout: 10_000 });
    assert.match((await phonePage.textContent('#message')) ?? '', /session was ended/i);

    // Profile change returns a token with the new claims at once; the resource service sees them in it.
    await page.fill('#profile-form input[name=name]', 'Ada Lovelace');
    await page.click('#profile-form button');
    await page.waitForFunction(() =>
      document.querySelector('#profile-result')?.textContent?.includes('Ada Lovelace'),
    );
    await page.waitForFunction(() =>
      /"name": "Ada Lovelace"/.test(document.querySelector('#api-result')?.textContent ?? ''),
    );

    await page.fill('#password-form input[name=current_password]', PASSWORD);
    await page.fill('#password-form input[name=new_password]', 'an even better passphrase');
    await page.click('#password-form button');
    await page.waitForFunction(() =>
      document.querySelector('#message')?.textContent?.includes('Password changed'),
    );

    await page.click('#logout-all');
    await page.waitForSelector('#signed-out:not([hidden])');
    assert.equal(await page.innerText('#message'), 'You logged out on every device.');
    await page.reload();
    await page.waitForSelector('#signed-out:not([hidden])');
    assert.deepEqual(errors, []);
    await phone.close();
    await context.close();
  });
});
