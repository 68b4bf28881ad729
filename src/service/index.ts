// bosun/service: a service is a set of tasks, in the model of facebook's sparts. Declare
// tasks as classes (dependencies, options, worker counts as statics), hand them to a Service,
// and it runs them as one Worker: init and start dependencies first, stop and join in reverse,
// and any unhandled task error stops the whole service instead of leaving a zombie.
//
//   class Tick extends PeriodicTask {
//     static override interval = 5_000;
//     async execute() { console.log('tick'); }
//   }
//   await runMain({ name: 'ticker', tasks: [Tick], status: { port: 8080 } });
//
// Options become flags and variables (`--tick-interval 1s`, `TICKER_TICK_INTERVAL=1s`);
// `--help` lists them by task. The status server serves /healthz, /status and /metrics.

export { Service } from './service.js';
export type { ServiceOptions, ServiceState, ServiceStatus, TaskStatus, Health } from './service.js';
export { Task } from './task.js';
export type { TaskClass, TaskContext, TaskState, Counters, RestartPolicy } from './task.js';
export { PeriodicTask } from './periodic.js';
export { RepeatingTask } from './repeating.js';
export type { ExecuteContext } from './repeating.js';
export { QueueTask } from './queue-task.js';
export type { QueueContext, SubmitOptions } from './queue-task.js';
export { PollerTask } from './poller.js';
export { CronTask } from './cron.js';
export { SkipTask, TryLater, OptionError, TaskInitError, DependencyCycleError, QueueFullError, TooManyFailuresError } from './errors.js';
export { kebab, upperSnake, parseDuration } from './options.js';
export type { OptionSpec, OptionSpecs, OptionType, OptionValue } from './options.js';
export { TimingSummary } from './timing.js';
export type { TimingSnapshot } from './timing.js';
export { ServiceMetrics } from './metrics.js';
export type { StatusOptions, StatusAddress } from './status-server.js';
export { runMain } from './run-main.js';
export type { RunMainOptions } from './run-main.js';
