// Demo silent program: talks for a few seconds, then hangs without a word; bosun's
// activityTimeout notices the silence and restarts it.
let n = 0;
const talk = setInterval(() => {
  console.log(`silent: tick ${++n}`);
  if (n === 3) {
    clearInterval(talk);
    console.log('silent: going quiet now (stuck)');
    setInterval(() => {}, 1 << 30);
  }
}, 1000);
