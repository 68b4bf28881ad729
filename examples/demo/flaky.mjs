// Demo flaky program: works for two to five seconds, then crashes with exit code 1.
const lifeMs = 2000 + Math.floor(Math.random() * 3000);
console.log(`flaky up; will crash in ${lifeMs}ms`);
setTimeout(() => {
  console.error('flaky: something went wrong, exiting 1');
  process.exit(1);
}, lifeMs);
