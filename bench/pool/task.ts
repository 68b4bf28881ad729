// The tiny task every contender in bench/pool runs: piscina takes the default export,
// ProcessPool the named one, and the fork-per-task child runs it once from its argv.
export function add({ a, b }: { a: number; b: number }): number {
  return a + b;
}
export default add;
