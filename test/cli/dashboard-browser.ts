// What the dashboard's Chromium tests share: a real daemon on a config and a fresh headless
// Chromium profile, both gone afterwards; the page opened with the token; locators by instance
// key; screenshots under test-output/. The page's CSP forbids eval, so conditions are polled
// from here (waitFor) or read with locator.evaluate, never with waitForFunction(string).

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { TEST_OUTPUT, startDaemon, tempProject, type Daemon } from './helpers.js';

export const CHROMIUM = '/usr/bin/chromium';
export const BROWSER_TEST = {
  skip:
    !existsSync(CHROMIUM) &&
    !process.env.CI &&
    'no /usr/bin/chromium (apt-get install -y chromium); under CI, where .ci/run installs it, this fails instead',
  timeout: 120_000,
};

export interface Session {
  d: Daemon;
  browser: BrowserContext;
  /** `http://127.0.0.1:PORT/` */
  base: string;
  token: string;
  /** The project folder (the config's, and programs' cwd). */
  dir: string;
  home: string;
}

/** Debian's Chromium, headless, on a fresh profile; `close()` ends it and removes the profile. */
export async function launchChromium(viewport?: {
  width: number;
  height: number;
}): Promise<{ browser: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'bosun-chromium-'));
  try {
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      ...(viewport === undefined ? {} : { viewport }),
      args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    return {
      browser,
      close: async () => {
        await browser.close();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
}

/** A daemon on `yaml` (written by `yamlFor(dir)` when a function) and a fresh Chromium for `fn`. */
export async function withDashboard(yaml: string | ((dir: string) => string), fn: (s: Session) => Promise<void>): Promise<void> {
  const p = tempProject('');
  p.write(typeof yaml === 'string' ? yaml : yaml(p.dir));
  let d: Daemon | undefined;
  let chrome: Awaited<ReturnType<typeof launchChromium>> | undefined;
  try {
    d = await startDaemon(p.dir, p.home);
    chrome = await launchChromium({ width: 1280, height: 900 });
    const base = d.lines[await d.line(/^dashboard http:\/\/127\.0\.0\.1:\d+\/$/)]!.split(' ')[1]!;
    await fn({ d, browser: chrome.browser, base, token: readFileSync(`${p.home}/token`, 'utf8').trim(), dir: p.dir, home: p.home });
  } finally {
    await chrome?.close();
    await d?.stop();
    p.cleanup();
  }
}

/** A new tab on the dashboard with the token, once it shows `key`'s instance. */
export async function openDashboard(s: Session, key: string, viewport?: { width: number; height: number }): Promise<Page> {
  const page = await s.browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  if (viewport !== undefined) await page.setViewportSize(viewport);
  await page.goto(`${s.base}#token=${s.token}`);
  await inst(page, key)
    .waitFor({ timeout: 15_000 })
    .catch((err: unknown) => {
      throw new Error(`the page never showed ${key}${errors.length > 0 ? ` (page errors: ${errors.join('; ')})` : ''}`, { cause: err });
    });
  return page;
}

/** The block of instance `key` (`name[index]`). */
export function inst(page: Page, key: string): Locator {
  return page.locator(`.inst[data-key="${key}"]`);
}

export function field(page: Page, key: string, name: string): Locator {
  return inst(page, key).locator(`[data-field="${name}"]`);
}

/** The log view of `key`, opened. */
export async function openLogs(page: Page, key: string): Promise<Locator> {
  const log = inst(page, key).locator('.log');
  if (!(await log.isVisible())) await inst(page, key).locator('button[data-action="logs"]').click();
  await log.waitFor({ state: 'visible', timeout: 10_000 });
  return log;
}

/** Saves a full-page screenshot as test-output/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(TEST_OUTPUT, { recursive: true });
  const path = join(TEST_OUTPUT, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
