// /metrics for a service: task counters and timings read at scrape time into a prom-client
// Registry of the service's own (never the global one, so two services never collide).
// Counters that only grow are exported as Prometheus counters (`_total`), the rest as gauges.
// prom-client is loaded when a service first needs its metrics (service.metrics, /metrics),
// not when bosun/service is imported: it is the heaviest module the service layer uses.

import { createRequire } from 'node:module';
import type { Counter, Gauge, Registry } from 'prom-client';
import type { Service } from './service.js';

let loaded: typeof import('prom-client') | undefined;
/** prom-client, loaded on first use (it is CommonJS, so require keeps this synchronous). */
function prom(): typeof import('prom-client') {
  return (loaded ??= createRequire(import.meta.url)('prom-client') as typeof import('prom-client'));
}

/** Counter names that only ever grow; exported as `bosun_task_<name>_total`. */
const MONOTONIC = new Set(['completed', 'failed', 'tryLater', 'slow', 'restarts', 'rejected', 'submitted', 'changes', 'triggered']);

const snake = (s: string) =>
  s
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^a-zA-Z0-9_]/g, '_')
    .toLowerCase();

export class ServiceMetrics {
  /** The prom-client Registry; register your own metrics here to have them served at /metrics. */
  readonly registry: Registry = new (prom().Registry)();
  readonly #service: Service;
  readonly #counters = new Map<string, Counter<string> | Gauge<string>>();
  readonly #duration: Gauge<string>;
  readonly #samples: Counter<string>;
  readonly #taskUp: Gauge<string>;
  readonly #uptime: Gauge<string>;
  readonly #healthy: Gauge<string>;

  constructor(service: Service) {
    this.#service = service;
    this.registry.setDefaultLabels({ service: service.name });
    const registers = [this.registry];
    const { Counter, Gauge } = prom();
    this.#duration = new Gauge({
      name: 'bosun_task_duration_seconds',
      help: 'Duration of a task unit of work (execution, item) over the last 512 samples; quantile="1" is the maximum ever seen',
      labelNames: ['task', 'quantile'],
      registers,
    });
    this.#samples = new Counter({
      name: 'bosun_task_duration_samples_total',
      help: 'Units of work timed',
      labelNames: ['task'],
      registers,
    });
    this.#taskUp = new Gauge({
      name: 'bosun_task_up',
      help: '1 if the task is running, else 0; label state has its state',
      labelNames: ['task', 'state'],
      registers,
    });
    this.#uptime = new Gauge({ name: 'bosun_service_uptime_seconds', help: 'Seconds since the service was created', registers });
    this.#healthy = new Gauge({ name: 'bosun_service_healthy', help: '1 when every task started and none failed', registers });
  }

  /** Prometheus text exposition of every metric in the registry, with fresh task values. */
  async text(): Promise<string> {
    this.#refresh();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  #metric(key: string): Counter<string> | Gauge<string> {
    let m = this.#counters.get(key);
    if (m === undefined) {
      let name = `bosun_task_${snake(key)}`;
      // A counter whose name a fixed metric already has gets a suffix rather than breaking /metrics.
      if (this.registry.getSingleMetric(MONOTONIC.has(key) ? `${name}_total` : name) !== undefined) name += '_counter';
      const { Counter, Gauge } = prom();
      m = MONOTONIC.has(key)
        ? new Counter({ name: `${name}_total`, help: `Task counter ${key}`, labelNames: ['task'], registers: [this.registry] })
        : new Gauge({ name, help: `Task counter ${key}`, labelNames: ['task'], registers: [this.registry] });
      this.#counters.set(key, m);
    }
    return m;
  }

  #refresh(): void {
    const status = this.#service.status();
    for (const m of this.#counters.values()) m.reset();
    this.#duration.reset();
    this.#samples.reset();
    this.#taskUp.reset();
    for (const [task, t] of Object.entries(status.tasks)) {
      for (const [key, value] of Object.entries(t.counters)) {
        const m = this.#metric(key);
        if (m instanceof prom().Counter) m.inc({ task }, value);
        else m.set({ task }, value);
      }
      for (const [q, ms] of [
        ['0.5', t.timing.p50Ms],
        ['0.9', t.timing.p90Ms],
        ['0.99', t.timing.p99Ms],
        ['1', t.timing.maxMs],
      ] as const) {
        this.#duration.set({ task, quantile: q }, ms / 1000);
      }
      this.#samples.inc({ task }, t.timing.count);
      this.#taskUp.set({ task, state: t.state }, t.state === 'running' ? 1 : 0);
    }
    this.#uptime.set(status.uptimeMs / 1000);
    this.#healthy.set(this.#service.health().healthy ? 1 : 0);
  }
}
