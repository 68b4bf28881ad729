// procrastinate's model: one forked process per task. Computes, reports, exits.
import { add } from './task.js';
process.send!(add({ a: Number(process.argv[2]), b: 1 }), () => process.disconnect());
