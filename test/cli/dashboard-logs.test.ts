// An instance's log view in headless Chromium: it spans restarts, so a crash's last lines stay
// on the page after the process is replaced, marked with the exit; it stays at the end while
// lines arrive, stays put once the reader scrolled up, and keeps a selection, because updates
// append lines and change texts in place instead of rebuilding the page.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BROWSER_TEST, field, inst, openDashboard, openLogs, screenshot, withDashboard } from './dashboard-browser.js';
import { waitFor } from './helpers.js';

/**
 * The first run prints, waits for the test's go (a file), then throws; later runs count. MARK
 * says whether a run already crashed, GO when to.
 */
const CRASH_ONCE = `const fs = require('fs');
if (!fs.existsSync(process.env.MARK)) {
  fs.writeFileSync(process.env.MARK, '');
  console.log('first run, waiting');
  setInterval(() => { if (fs.existsSync(process.env.GO)) throw new Error('boom-crash-line'); }, 50);
} else {
  let n = 0;
  setInterval(() => console.log('after crash ' + (++n)), 100);
}`;

test(
  "after a crash, the crash's last line is still on the page 5 s later, marked with the exit, and the timeline says why",
  BROWSER_TEST,
  () =>
    withDashboard(
      (dir) => `dashboard: { port: 0 }
supervisor: { backoff: { initial: 100ms } }
programs:
  crashy: { command: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(CRASH_ONCE)}], env: { MARK: ${JSON.stringify(join(dir, 'crashed'))}, GO: ${JSON.stringify(join(dir, 'go'))} } }
`,
      async (s) => {
        const page = await openDashboard(s, 'crashy[0]');
        const log = await openLogs(page, 'crashy[0]');
        await log.locator('div', { hasText: 'first run, waiting' }).waitFor({ timeout: 15_000 });
        writeFileSync(join(s.dir, 'go'), '');

        // The exit marker shows up once the crashed run is gone; what it printed last comes right before.
        const exitMark = log.locator('.event.exited.crash');
        await exitMark.waitFor({ timeout: 15_000 });
        const crashedAt = Date.now();
        const logFile = readFileSync(join(s.home, 'logs', 'crashy-0.log'), 'utf8').split('\n');
        const lastLine = logFile[logFile.findIndex((l) => l.startsWith('after crash')) - 1] ?? logFile.filter((l) => l !== '').at(-1)!;
        assert.ok(
          logFile.some((l) => l.includes('Error: boom-crash-line')),
          'the crash printed its error',
        );

        // 5 s later, with the next run printing meanwhile, the crash is still on the page.
        await waitFor(
          '5 s after the crash, with the new run printing',
          async () => Date.now() - crashedAt >= 5000 && (await log.locator('div', { hasText: /^after crash \d+$/ }).count()) >= 10,
          20_000,
        );
        const lines = await log
          .locator(':scope > div')
          .evaluateAll((ds) => ds.map((d) => ({ cls: d.className, text: d.textContent ?? '' })));
        const mark = lines.findIndex((l) => l.cls.includes('exited'));
        assert.ok(mark > 0, `an exit marker: ${JSON.stringify(lines.slice(0, 20))}`);
        assert.equal(lines[mark - 1]!.text, lastLine, "the line right before the exit marker is the crash's last line");
        assert.ok(
          lines.slice(0, mark).some((l) => l.text === 'Error: boom-crash-line' && l.cls === 'stderr'),
          "the crash's error is there, as stderr",
        );
        assert.match(lines[mark]!.text, /exited code=1 signal=null \(exit: crashy\[0\] exited with code 1\)/);
        assert.ok(
          lines.slice(mark).some((l) => /started pid=\d+/.test(l.text)),
          'the new run is marked after it',
        );
        assert.equal(lines.at(-1)!.text.startsWith('after crash'), true, "the new run's output follows");
        assert.equal(await log.locator('div', { hasText: 'Error: boom-crash-line' }).isVisible(), true);

        // The timeline lists the exit with its reason and the policy's restart.
        const timeline = inst(page, 'crashy[0]').locator('ol.tlist');
        assert.equal(await timeline.locator('li[data-event="exited"][data-reason="exit"]').count(), 1);
        assert.equal(await timeline.locator('li[data-event="restarting"]').count(), 1);
        assert.match(
          (await timeline.locator('li[data-event="exited"]').textContent()) ?? '',
          /code=1 signal=null · exit: crashy\[0\] exited with code 1/,
        );
        assert.equal(await field(page, 'crashy[0]', 'restarts').textContent(), '1');
        // For the screenshot, the crash in view (the view follows the new run's lines until scrolled).
        await exitMark.scrollIntoViewIfNeeded();
        await screenshot(page, 'dashboard-crash');
      },
    ),
);

test('the log view stays at the end while lines arrive, stays put once scrolled up, and keeps a selection', BROWSER_TEST, () =>
  withDashboard(
    `dashboard: { port: 0 }
programs:
  chatty: { command: [${JSON.stringify(process.execPath)}, -e, "let n = 0; setInterval(() => console.log('line ' + (++n)), 40)"] }
`,
    async (s) => {
      const page = await openDashboard(s, 'chatty[0]');
      const log = await openLogs(page, 'chatty[0]');
      const geometry = () =>
        log.evaluate((b) => ({
          top: b.scrollTop,
          end: b.scrollHeight - b.clientHeight,
          lines: b.childElementCount,
          last: b.lastElementChild?.textContent ?? '',
        }));
      const moreLines = async (than: number) => waitFor('more lines in the view', async () => (await geometry()).lines > than);
      await waitFor('the view to overflow', async () => (await geometry()).end > 200);
      // The row is updated in place, never rebuilt: a mark on its node survives.
      await inst(page, 'chatty[0]').evaluate((e) => e.setAttribute('data-test-mark', 'same node'));

      for (let round = 0; round < 3; round++) {
        const g = await geometry();
        await moreLines(g.lines);
        const now = await geometry();
        assert.ok(now.end > g.end, 'the content grew');
        assert.ok(
          Math.abs(now.top - now.end) < 1,
          `at the end after new lines (round ${round}): scrollTop ${now.top}, scrollHeight - clientHeight ${now.end}`,
        );
      }

      // The reader scrolls up: new lines arrive below, the view does not move.
      await log.evaluate((b) => (b.scrollTop = 120));
      await waitFor(
        'the scroll to be seen',
        async () => (await inst(page, 'chatty[0]').locator('.jump').isHidden()) && (await geometry()).top === 120,
      );
      const topLine = await log.evaluate((b) => {
        const r = b.getBoundingClientRect();
        return b.ownerDocument.elementFromPoint(r.left + 20, r.top + 10)?.textContent ?? '';
      });
      const up = await geometry();
      await moreLines(up.lines);
      await moreLines((await geometry()).lines);
      const after = await geometry();
      assert.equal(after.top, 120, 'scrollTop did not change while lines arrived');
      assert.ok(after.end > up.end + 20, 'lines did arrive below');
      assert.equal(
        await log.evaluate((b) => {
          const r = b.getBoundingClientRect();
          return b.ownerDocument.elementFromPoint(r.left + 20, r.top + 10)?.textContent ?? '';
        }),
        topLine,
        'the same line is at the top of the view',
      );
      await inst(page, 'chatty[0]').locator('.jump').waitFor({ state: 'visible', timeout: 5000 });

      // A selection (triple-click selects one line) survives updates; so does one in the row.
      const picked = log.locator(':scope > div').nth(8);
      const pickedText = await picked.textContent();
      await picked.click({ clickCount: 3 });
      const selected = async () => String(await page.evaluate('String(getSelection())')).trim();
      assert.equal(await selected(), pickedText);
      await moreLines((await geometry()).lines);
      await moreLines((await geometry()).lines);
      assert.equal(await selected(), pickedText, 'the selected line is still selected after two updates');
      const pid = field(page, 'chatty[0]', 'pid');
      await pid.click({ clickCount: 3 });
      assert.equal(await selected(), await pid.textContent());
      await moreLines((await geometry()).lines);
      await moreLines((await geometry()).lines);
      assert.equal(await selected(), await pid.textContent(), 'a selection in the row survives updates');
      await screenshot(page, 'dashboard-scrolled-up');

      // Back to the end (the button): it follows again.
      await inst(page, 'chatty[0]').locator('.jump').click();
      const back = await geometry();
      await moreLines(back.lines);
      const followed = await geometry();
      assert.ok(Math.abs(followed.top - followed.end) < 1, `following again: ${followed.top} vs ${followed.end}`);
      assert.equal(await inst(page, 'chatty[0]').getAttribute('data-test-mark'), 'same node');
      assert.equal(existsSync(join(s.home, 'logs', 'chatty-0.log')), true);
    },
  ),
);
