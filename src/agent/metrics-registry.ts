import { Counter, Gauge, Registry } from 'prom-client';
import type { AgentMetrics, CounterValues, GaugeValue } from './metrics.js';

/** A prom-client registry whose metrics read the agent's plain values at each scrape. */
export function registryFor(m: AgentMetrics): Registry {
  const registry = new Registry();
  const gauge = (g: GaugeValue) => new Gauge({ ...g.spec, registers: [registry], collect() { this.set(g.value); } });
  const counter = (c: CounterValues) => {
    const { name, help, labelName } = c.spec;
    new Counter({
      name, help, labelNames: labelName ? [labelName] : [], registers: [registry],
      collect() {
        this.reset();
        for (const [label, value] of c.values) {
          if (labelName) this.inc({ [labelName]: label }, value);
          else this.inc(value);
        }
      },
    });
  };
  gauge(m.certExpiry);
  gauge(m.sdsStreams);
  counter(m.renewals);
  counter(m.sdsPushes);
  counter(m.sdsNacks);
  counter(m.configPushes);
  counter(m.configNacks);
  return registry;
}
