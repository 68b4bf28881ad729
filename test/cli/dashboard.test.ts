// The dashboard in headless Chromium: every program listed, a click on restart replaces the
// process (the pid cell changes) without a page reload, and a crash shows its restart count go
// up live. A restart by command does not count in `restarts` (DESIGN), so the click is observed
// through the pid; the count is observed after a SIGKILL from outside. Opened without the token
// the page shows nothing but a form that asks for it.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';
import { TEST_OUTPUT, prog, startDaemon, tempProject, waitFor, type Daemon } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const BROWSER_TEST = { skip: !existsSync(CHROMIUM) && !process.env.CI && 'no /usr/bin/chromium (apt-get install -y chromium); under CI, where .ci/run installs it, this fails instead', timeout: 90_000 };

interface Session {
  d: Daemon;
  browser: BrowserContext;
  base: string;
  token: string;
}

/** A daemon on `yaml` and a fresh Chromium profile for `fn`; both gone afterwards. */
async function withDashboard(yaml: string, fn: (s: Session) => Promise<void>): Promise<void> {
  const p = tempProject(yaml);
  const profile = mkdtempSync(join(tmpdir(), 'bosun-chromium-'));
  const d = await startDaemon(p.dir, p.home);
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const base = d.lines[await d.line(/^dashboard http:\/\/127\.0\.0\.1:\d+\/$/)]!.split(' ')[1]!;
    await fn({ d, browser, base, token: readFileSync(`${p.home}/token`, 'utf8').trim() });
  } finally {
    await browser.close();
    await d.stop();
    rmSync(profile, { recursive: true, force: true });
    p.cleanup();
  }
}

test('the dashboard lists every program and restarts one on click, updating live', BROWSER_TEST, () => withDashboard(`dashboard: { port: 0 }
supervisor: { backoff: { initial: 100ms } }
programs:
  web: { command: ${prog('--tick', 300)}, after: [worker] }
  worker: { command: ${prog('--ready-after', 100)}, ready: { log: "ready now" } }
  cron: { command: ${prog()} }
`, async ({ d, browser, base, token }) => {
    await d.until('all running', (s) => s.programs.every((x) => x.pid !== null));
    const page = await browser.newPage();
    await page.goto(`${base}#token=${token}`);
    for (const name of ['web', 'worker', 'cron']) {
      await page.locator(`tr[data-program="${name}"] [data-field="state"]`).filter({ hasText: /running|ready/ }).waitFor({ timeout: 15_000 });
    }
    assert.equal(await page.evaluate('location.hash'), '', 'the token is taken out of the address bar');
    await page.evaluate('window.notReloaded = true');

    const pidCell = page.locator('tr[data-program="cron"] [data-field="pid"]');
    const oldPid = await pidCell.textContent();
    assert.match(oldPid ?? '', /^\d+$/);
    await page.locator('tr[data-program="cron"] button[data-action="restart"]').click();
    // Polled through locators: the page's CSP forbids the eval that waitForFunction(string) needs.
    await waitFor('the pid cell to change', async () => {
      const t = await pidCell.textContent();
      return t !== null && /^\d+$/.test(t) && t !== oldPid;
    });
    const newPid = Number(await pidCell.textContent());
    assert.equal((await d.status()).programs.find((x) => x.name === 'cron')!.pid, newPid);

    process.kill(newPid, 'SIGKILL');
    const restartsCell = page.locator('tr[data-program="cron"] [data-field="restarts"]');
    await waitFor('the restart count to go up', async () => (await restartsCell.textContent()) === '1');
    await page.locator('tr[data-program="cron"] [data-field="state"]').filter({ hasText: 'running' }).waitFor({ timeout: 15_000 });
    assert.equal(await page.evaluate('window.notReloaded'), true, 'the page was never reloaded');
    assert.equal(await page.locator('tbody tr[data-program]').count(), 3);

    mkdirSync(TEST_OUTPUT, { recursive: true });
    await page.locator('tr[data-program="web"] button[data-action="logs"]').click();
    await page.screenshot({ path: join(TEST_OUTPUT, 'dashboard.png'), fullPage: true });
  }));

test('the page opened without the token shows nothing but a token form, and the programs once given the token', BROWSER_TEST, () => withDashboard(`dashboard: { port: 0 }
programs:
  web: { command: ${prog('--say', 'page-secret', '--tick', 300)} }
`, async ({ browser, base, token }) => {
    const page = await browser.newPage();
    await page.goto(base);
    await page.locator('#login').waitFor({ state: 'visible', timeout: 15_000 });
    assert.equal(await page.locator('tbody tr[data-program]').count(), 0, 'no program is shown without the token');
    assert.equal((await page.content()).includes('page-secret'), false);

    await page.fill('#token', '0'.repeat(64));
    await page.locator('#login button').click();
    await page.locator('#msg').filter({ hasText: 'token refused' }).waitFor({ timeout: 15_000 });
    assert.equal(await page.locator('#login').isVisible(), true, 'a wrong token brings the form back');

    await page.fill('#token', token);
    await page.locator('#login button').click();
    await page.locator('tr[data-program="web"] [data-field="state"]').filter({ hasText: 'running' }).waitFor({ timeout: 15_000 });
    assert.equal(await page.locator('#login').isVisible(), false);
    await page.reload();
    await page.locator('tr[data-program="web"] [data-field="state"]').filter({ hasText: 'running' }).waitFor({ timeout: 15_000 });
  }));
