// Symbols through which the Service drives a task's machinery. Not exported from the package:
// task authors override hooks, never these.

/** `task[kMachinery]()`: start the task's running part (loops, dispatcher); a Worker or nothing. */
export const kMachinery = Symbol('bosun.service.machinery');
/** `task[kStopSignal]()`: the controller the Service aborts when it asks the task to stop. */
export const kStopSignal = Symbol('bosun.service.stopSignal');

export { superviseLoops } from './restart.js';
