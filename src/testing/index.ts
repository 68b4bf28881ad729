// bosun/testing: drive time by hand and observe workers in tests, without sleeping.
export { TestClock, settle } from './test-clock.js';
