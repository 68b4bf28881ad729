// What the dashboard shows beside the rows, in headless Chromium: memory and CPU history per
// instance, a restart timeline with reasons, program details (command, cwd, env names and never
// their values), and a layout that works at 420 px wide. Screenshots of both widths go to
// test-output/ (dashboard-1280.png, dashboard-420.png).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BROWSER_TEST, field, inst, openDashboard, openLogs, screenshot, withDashboard } from './dashboard-browser.js';
import { freePort } from '../support.js';
import { cli, prog, waitFor } from './helpers.js';

const SECRET_VALUE = 'never-in-the-browser-5f1c';
const FLAPPY = "console.log('up for a while'); setTimeout(() => process.exit(3), 1200)";

const config = (port: number) => `dashboard: { port: 0 }
supervisor: { intensity: 100, backoff: { initial: 100ms, factor: 1 } }
programs:
  web:
    command: ${prog('--tick', 250)}
    instances: 2
    memoryLimit: 500MB
    env: { BOSUN_TEST_VALUE: shown-by-prog, API_SECRET: ${SECRET_VALUE} }
    listen: ["127.0.0.1:${port}"]
    cronRestart: "0 3 * * *"
  flappy: { command: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(FLAPPY)}] }
`;

test(
  'memory and CPU history per instance, a restart timeline with reasons, and program details without env values',
  BROWSER_TEST,
  async () =>
    withDashboard(config(await freePort()), async (s) => {
      const page = await openDashboard(s, 'web[0]');
      await openLogs(page, 'web[0]');
      await openLogs(page, 'flappy[0]');
      await page.locator('article[data-program="web"] button[data-action="details"]').click();

      assert.equal(await page.locator('#nav-queue').isVisible(), false, 'no queue, no link to its page');
      // Details: how the program is run, env names only.
      const info = (name: string) => page.locator(`article[data-program="web"] dd[data-info="${name}"]`);
      assert.match((await info('command').textContent()) ?? '', /fixtures\/prog\.js --tick 250$/);
      assert.equal(await info('cwd').textContent(), s.dir);
      assert.equal(await info('env').textContent(), 'API_SECRET, BOSUN_TEST_VALUE');
      assert.match((await info('limits').textContent()) ?? '', /memory 500\.0 MB/);
      assert.match((await info('sockets').textContent()) ?? '', /^127\.0\.0\.1:\d+$/);
      assert.equal(await info('schedule').textContent(), 'restart at cron 0 3 * * *');
      assert.equal(
        await page.locator('article[data-program="flappy"] dd[data-info="sockets"]').count(),
        0,
        'no sockets row without listen',
      );
      assert.match((await info('log files').textContent()) ?? '', /web-0\.log, .*web-1\.log$/);
      assert.equal((await page.content()).includes(SECRET_VALUE), false, 'an env value never reaches the page');
      const stream = await fetch(`${s.base}api/events`, {
        headers: { authorization: `Bearer ${s.token}` },
        signal: AbortSignal.timeout(1500),
      }).then(async (r) => {
        let text = '';
        try {
          for await (const chunk of r.body!) text += Buffer.from(chunk as Uint8Array).toString();
        } catch {
          // the timeout ends the stream
        }
        return text;
      });
      assert.match(stream, /"envKeys":\["API_SECRET","BOSUN_TEST_VALUE"\]/);
      assert.equal(stream.includes(SECRET_VALUE), false, 'nor the event stream');

      // History: a sample a second while the page watches, drawn over the last 10 minutes.
      const mem = inst(page, 'web[0]').locator('figure[data-chart="memory"]');
      const cpu = inst(page, 'web[0]').locator('figure[data-chart="cpu"]');
      await waitFor('three memory samples drawn', async () => Number(await mem.locator('svg').getAttribute('data-points')) >= 3, 20_000);
      assert.ok(Number(await cpu.locator('svg').getAttribute('data-points')) >= 3);
      assert.match((await mem.locator('.ctitle').textContent()) ?? '', /now \d+(\.\d)? MB · max \d+(\.\d)? MB · limit 500\.0 MB/);
      assert.match((await cpu.locator('.ctitle').textContent()) ?? '', /now \d+(\.\d)?% · max \d+(\.\d)?%/);
      assert.ok((await mem.locator('polyline').count()) >= 1);
      const points = (await mem.locator('polyline').first().getAttribute('points'))!.split(' ').map((p) => p.split(',').map(Number));
      assert.ok(
        points.every(([x, y]) => x! >= 0 && x! <= 600 && y! >= 0 && y! <= 60),
        `points inside the chart: ${JSON.stringify(points)}`,
      );

      // The timeline: flappy exits by itself over and over; each exit has its reason, each restart its delay.
      const timeline = inst(page, 'flappy[0]').locator('.timeline');
      await waitFor(
        'two exits on the timeline',
        async () => (await timeline.locator('li[data-event="exited"][data-reason="exit"]').count()) >= 2,
        30_000,
      );
      assert.ok((await timeline.locator('li[data-event="restarting"]').count()) >= 2);
      assert.match((await timeline.locator('li[data-event="restarting"]').first().textContent()) ?? '', /restarting in=\d+ms/);
      assert.ok((await timeline.locator('svg.tstrip rect[data-event="exited"]').count()) >= 2, 'exits are marked on the strip');
      assert.match((await timeline.locator('.ctitle').textContent()) ?? '', /\d+ crash(es)?, \d+ restarts? by policy/);
      // A restart by command says so.
      await inst(page, 'web[1]').locator('button[data-action="logs"]').click();
      await inst(page, 'web[1]').locator('button[data-action="restart"]').click();
      await inst(page, 'web[1]').locator('.timeline li[data-event="exited"][data-reason="command"]').waitFor({ timeout: 15_000 });
      await inst(page, 'web[1]').locator('button[data-action="logs"]').click();
      await screenshot(page, 'dashboard-1280');
    }),
);

test('at 420 px wide nothing overflows and the buttons work', BROWSER_TEST, async () =>
  withDashboard(config(await freePort()), async (s) => {
    const page = await openDashboard(s, 'web[1]', { width: 420, height: 900 });
    await openLogs(page, 'web[1]');
    await page.locator('article[data-program="web"] button[data-action="details"]').click();
    await waitFor(
      'samples drawn',
      async () => Number(await inst(page, 'web[1]').locator('figure[data-chart="memory"] svg').getAttribute('data-points')) >= 2,
      20_000,
    );
    const widths = await page.locator('html').evaluate((h) => ({ doc: h.scrollWidth, view: h.ownerDocument.defaultView.innerWidth }));
    assert.equal(widths.view, 420);
    assert.ok(widths.doc <= widths.view, `the page is ${widths.doc} px wide in a ${widths.view} px window`);
    // Every button and the log view lie inside the window.
    const outside = await page.locator('button:visible, .log:visible, figure.chart:visible, .inst:visible').evaluateAll(
      (els, view) =>
        els
          .map((e) => ({ what: `${e.tagName}.${e.className} ${e.textContent?.slice(0, 20) ?? ''}`, r: e.getBoundingClientRect() }))
          .filter((x) => x.r.left < 0 || x.r.right > view + 0.5)
          .map((x) => x.what),
      widths.view,
    );
    assert.deepEqual(outside, []);
    const pid = field(page, 'web[1]', 'pid');
    const before = await pid.textContent();
    await inst(page, 'web[1]').locator('button[data-action="restart"]').click();
    await waitFor('a new pid', async () => {
      const t = await pid.textContent();
      return t !== before && /^\d+$/.test(t ?? '');
    });
    await screenshot(page, 'dashboard-420');
  }),
);

test("the daemon's own output failing (its stdout closed) shows as a banner on the page, as status says", BROWSER_TEST, async () =>
  withDashboard(`dashboard: { port: 0 }\nprograms:\n  web: { command: ${prog('--tick', 250)} }\n`, async (s) => {
    const page = await openDashboard(s, 'web[0]');
    const banner = page.locator('#daemon-problems');
    assert.equal(await banner.isHidden(), true, 'no banner while the output works');
    s.d.closeStdout();
    // The restart's lifecycle lines go to a stdout nobody reads any more: EPIPE.
    await cli(['restart', 'web', '--home', s.home]);
    const problem = await waitFor('status to report the daemon output failing', async () => {
      const st = JSON.parse((await cli(['status', '--json', '--home', s.home])).stdout) as {
        daemonOutput?: { target: string; error: string; lost: number }[];
      };
      return st.daemonOutput?.[0];
    });
    assert.equal(problem.target, 'stdout');
    assert.match(problem.error, /EPIPE/);
    assert.ok(problem.lost >= 1, `the restart's lines are counted lost (${problem.lost})`);
    await waitFor(
      'the banner',
      async () =>
        (await banner.isVisible()) &&
        /output to stdout is failing: .*EPIPE; [1-9]\d* lines? lost so far/.test((await banner.textContent()) ?? ''),
      15_000,
    );
    await screenshot(page, 'dashboard-daemon-output');
  }),
);
