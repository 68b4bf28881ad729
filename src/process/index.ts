// bosun/process: a child process as a Worker (monitorProcess), a pool of child processes that
// run an ES module's functions (ProcessPool), and /proc helpers that kill a whole process tree.
// Canonical use: put `monitorProcess({ command, args })` under a Supervisor, which restarts it
// with backoff; kill() never leaves a descendant behind (see tree.ts for the one exception).
export * from './errors.js';
export {
  TREE_ENV,
  findTree,
  findTrees,
  isAlive,
  isStopped,
  killTree,
  listDescendants,
  listProcesses,
  procInfo,
  startTimeMs,
  stillAlive,
  treeCpuMs,
  treeRss,
  type ProcInfo,
  type TreeRoot,
} from './tree.js';
export { LogFile, type LogFileOptions } from './log-file.js';
export { TailRing, type LineListener, type StreamName } from './output.js';
export { makeFifos, type OutputPipePaths } from './output-pipes.js';
export type { ReadyCheck } from './ready.js';
export * from './monitor.js';
export * from './pool.js';
