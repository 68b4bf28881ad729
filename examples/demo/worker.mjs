// Demo worker: takes a moment to warm up, says so, then reports progress now and then.
let done = 0;
setTimeout(() => {
  console.log('worker ready');
  setInterval(() => console.log(`worker processed ${(done += 10)} items`), 2000);
}, 700);
process.on('SIGTERM', () => {
  console.log('worker stopping');
  process.exit(0);
});
