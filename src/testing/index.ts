// bosun/testing: drive time by hand and observe workers in tests, without sleeping.
//   const clock = new TestClock();
//   const w = periodicWorker(tick, 1000, { clock });
//   await clock.advance(1000);                  // fires the due timer, lets its work run
//   assert.equal(await checkKilled(w, 1000), undefined);   // stopped cleanly, or the test fails naming what still runs
export { TestClock, settle } from './test-clock.js';
export { checkKilled, StillRunningError } from './check-killed.js';
