// The dashboard in headless Chromium: every program listed and updated live without a reload;
// an instance's buttons act on that instance alone (as `bosun restart web:1` does) and a
// program's on all of its instances; the token is asked for, and taken from a #token= URL
// pasted into a tab that already shows the page. A restart by command does not count in
// `restarts` (DESIGN), so clicks are observed through pids; the count through a SIGKILL.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BROWSER_TEST, field, inst, openDashboard, withDashboard } from './dashboard-browser.js';
import { cli, prog, waitFor, type Status } from './helpers.js';

const pidOf = (s: Status, name: string, index: number) => s.programs.find((p) => p.name === name && p.instance === index)!.pid;

test(
  "restart web:1 changes only instance 1's pid; the dashboard's instance buttons do the same, a program's buttons act on every instance",
  BROWSER_TEST,
  () =>
    withDashboard(
      `dashboard: { port: 0 }
supervisor: { backoff: { initial: 100ms } }
queue: { pglite: ./jobs }
programs:
  web: { command: ${prog('--tick', 300)}, instances: 2, after: [worker] }
  worker: { command: ${prog('--ready-after', 100)}, ready: { log: "ready now" } }
  cron: { command: ${prog()} }
`,
      async (s) => {
        const { d, home } = s;
        let st = await d.until('all running', (x) => x.programs.length === 4 && x.programs.every((p) => p.pid !== null));
        const [web0, web1] = [pidOf(st, 'web', 0), pidOf(st, 'web', 1)];
        const r = await cli(['restart', 'web:1', '--home', home]);
        assert.equal(r.code, 0, r.stderr);
        st = await d.status();
        assert.equal(pidOf(st, 'web', 0), web0, 'bosun restart web:1 leaves web:0 alone');
        assert.notEqual(pidOf(st, 'web', 1), web1, 'bosun restart web:1 replaces web:1');

        const page = await openDashboard(s, 'cron[0]');
        for (const key of ['web[0]', 'web[1]', 'worker[0]', 'cron[0]'])
          await field(page, key, 'state')
            .filter({ hasText: /running|ready/ })
            .waitFor({ timeout: 15_000 });
        assert.equal(await page.evaluate('location.hash'), '', 'the token is taken out of the address bar');
        assert.equal(await page.locator('.inst').count(), 4);
        assert.equal(await page.locator('article.program').count(), 3);
        assert.equal(
          await page.locator('#nav-queue').getAttribute('href'),
          '/queue',
          'with a queue in the config the header links to its page',
        );
        assert.equal(await page.locator('#nav-queue').isVisible(), true);
        await page.evaluate('window.notReloaded = true');

        // One instance's button: that instance's pid changes, the other's stays, on the page and in status.
        const pid0 = field(page, 'web[0]', 'pid');
        const pid1 = field(page, 'web[1]', 'pid');
        const before0 = await pid0.textContent();
        const before1 = await pid1.textContent();
        assert.equal(before0, String(web0));
        assert.equal(before1, String(pidOf(st, 'web', 1)));
        await inst(page, 'web[1]').locator('button[data-action="restart"]').click();
        await waitFor('web:1 to get a new pid on the page', async () => {
          const t = await pid1.textContent();
          return t !== null && /^\d+$/.test(t) && t !== before1;
        });
        st = await d.status();
        assert.equal(String(pidOf(st, 'web', 1)), await pid1.textContent());
        assert.equal(pidOf(st, 'web', 0), web0, "the instance button left web:0's process alone");
        assert.equal(await pid0.textContent(), before0);

        // Stop and start one instance: the other keeps running throughout.
        await inst(page, 'web[1]').locator('button[data-action="stop"]').click();
        await field(page, 'web[1]', 'state').filter({ hasText: 'stopped' }).waitFor({ timeout: 15_000 });
        assert.equal(await pid1.textContent(), '-');
        assert.equal(pidOf(await d.status(), 'web', 0), web0);
        await inst(page, 'web[1]').locator('button[data-action="start"]').click();
        await field(page, 'web[1]', 'state').filter({ hasText: 'running' }).waitFor({ timeout: 15_000 });
        assert.equal(pidOf(await d.status(), 'web', 0), web0);

        // The program's button: every instance gets a new process.
        const mid1 = await pid1.textContent();
        await page.locator('article[data-program="web"] .phead button[data-action="restart"]').click();
        await waitFor('both web pids to change on the page', async () => {
          const [a, b] = [await pid0.textContent(), await pid1.textContent()];
          return a !== before0 && b !== mid1 && /^\d+$/.test(a ?? '') && /^\d+$/.test(b ?? '');
        });
        st = await d.status();
        assert.notEqual(pidOf(st, 'web', 0), web0);
        assert.equal(String(pidOf(st, 'web', 0)), await pid0.textContent());
        assert.equal(String(pidOf(st, 'web', 1)), await pid1.textContent());

        // A crash shows live: the restart count goes up without a reload.
        const cronPid = Number(await field(page, 'cron[0]', 'pid').textContent());
        process.kill(cronPid, 'SIGKILL');
        await waitFor('the restart count to go up', async () => (await field(page, 'cron[0]', 'restarts').textContent()) === '1');
        await field(page, 'cron[0]', 'state').filter({ hasText: 'running' }).waitFor({ timeout: 15_000 });
        assert.equal(await page.evaluate('window.notReloaded'), true, 'the page was never reloaded');
      },
    ),
);

test('the page opened without the token shows nothing but a token form, and the programs once given the token', BROWSER_TEST, () =>
  withDashboard(
    `dashboard: { port: 0 }
programs:
  web: { command: ${prog('--say', 'page-secret', '--tick', 300)} }
`,
    async ({ browser, base, token }) => {
      const page = await browser.newPage();
      await page.goto(base);
      await page.locator('#login').waitFor({ state: 'visible', timeout: 15_000 });
      assert.equal(await page.locator('.inst').count(), 0, 'no program is shown without the token');
      assert.equal((await page.content()).includes('page-secret'), false);

      await page.fill('#token', '0'.repeat(64));
      await page.locator('#login button').click();
      await page.locator('#msg').filter({ hasText: 'token refused' }).waitFor({ timeout: 15_000 });
      assert.equal(await page.locator('#login').isVisible(), true, 'a wrong token brings the form back');
      assert.equal(await page.locator('.inst').count(), 0);

      await page.fill('#token', token);
      await page.locator('#login button').click();
      await page.locator('.inst[data-key="web[0]"] [data-field="state"]').filter({ hasText: 'running' }).waitFor({ timeout: 15_000 });
      assert.equal(await page.locator('#login').isVisible(), false);
      await page.reload();
      await page.locator('.inst[data-key="web[0]"] [data-field="state"]').filter({ hasText: 'running' }).waitFor({ timeout: 15_000 });
    },
  ),
);

test('a #token= URL pasted into a tab that already shows the dashboard is taken, without a reload', BROWSER_TEST, () =>
  withDashboard(
    `dashboard: { port: 0 }
programs:
  web: { command: ${prog('--tick', 300)} }
`,
    async ({ browser, base, token }) => {
      const page = await browser.newPage();
      // The tab holds the token of an earlier daemon: the page says it was refused and asks.
      await page.goto(base);
      await page.evaluate(`localStorage.setItem('bosun-token', '${'ab'.repeat(32)}')`);
      await page.reload();
      await page.locator('#msg').filter({ hasText: 'token refused' }).waitFor({ timeout: 15_000 });
      await page.evaluate('window.notReloaded = true');

      // Pasting the printed URL changes only the fragment: a same-document navigation.
      await page.goto(`${base}#token=${token}`);
      await page.locator('.inst[data-key="web[0]"] [data-field="state"]').filter({ hasText: 'running' }).waitFor({ timeout: 15_000 });
      assert.equal(await page.evaluate('window.notReloaded'), true, 'taken without a reload');
      assert.equal(await page.evaluate('location.hash'), '', 'and taken out of the address bar');
      assert.equal(await page.locator('#login').isVisible(), false);
      assert.equal(await page.evaluate("localStorage.getItem('bosun-token')"), token);

      // Pasted again while connected (a new daemon's URL would do this): it reconnects with it and keeps working.
      await page.goto(`${base}#token=${token}`);
      const pid = await page.locator('.inst[data-key="web[0]"] [data-field="pid"]').textContent();
      await page.locator('.inst[data-key="web[0]"] button[data-action="restart"]').click();
      await waitFor('a new pid after the second paste', async () => {
        const t = await page.locator('.inst[data-key="web[0]"] [data-field="pid"]').textContent();
        return t !== pid && /^\d+$/.test(t ?? '');
      });
      assert.equal(await page.evaluate('window.notReloaded'), true);
    },
  ),
);
