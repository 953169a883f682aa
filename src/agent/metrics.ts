import type { Registry } from 'prom-client';

export interface MetricSpec {
  name: string;
  help: string;
  /** The one label a labelled metric has. */
  labelName?: string;
}

/** A counter's values by label value ('' when it has no label). */
export class CounterValues {
  readonly values = new Map<string, number>();
  constructor(readonly spec: MetricSpec) {}

  inc(labels?: Record<string, string>): void {
    const key = this.spec.labelName ? labels?.[this.spec.labelName] ?? '' : '';
    this.values.set(key, (this.values.get(key) ?? 0) + 1);
  }
}

export class GaugeValue {
  value = 0;
  constructor(readonly spec: MetricSpec) {}

  set(value: number): void {
    this.value = value;
  }
}

/**
 * The agent's Prometheus metrics, kept as plain numbers. prom-client (with the @opentelemetry/api it
 * requires, ~90 modules) is loaded by the first scrape instead of on the way to the first SVID, where it
 * cost ~35 ms of process start under --jitless. One instance per agent, so that several agents in one
 * process (tests, bench) do not share counters.
 */
export class AgentMetrics {
  readonly certExpiry = new GaugeValue({ name: 'meshid_agent_cert_expiry_timestamp_seconds', help: 'NotAfter of the SVID currently served, as a Unix timestamp' });
  readonly renewals = new CounterValues({ name: 'meshid_agent_renewals_total', help: 'SVID fetches from the CA, by result (success or the error code)', labelName: 'result' });
  readonly sdsStreams = new GaugeValue({ name: 'meshid_agent_sds_streams', help: 'Open xDS streams (SDS, LDS, CDS)' });
  readonly sdsPushes = new CounterValues({ name: 'meshid_agent_sds_pushes_total', help: 'SDS responses sent, by resource name', labelName: 'resource' });
  readonly sdsNacks = new CounterValues({ name: 'meshid_agent_sds_nacks_total', help: 'SDS responses rejected by the proxy' });
  readonly configPushes = new CounterValues({ name: 'meshid_agent_config_pushes_total', help: 'LDS and CDS responses sent, by type', labelName: 'type' });
  readonly configNacks = new CounterValues({ name: 'meshid_agent_config_nacks_total', help: 'LDS and CDS responses rejected by the proxy, by type', labelName: 'type' });
  private registry?: Promise<Registry>;

  /** The Prometheus text exposition of these metrics and its content type. */
  async exposition(): Promise<{ text: string; contentType: string }> {
    this.registry ??= import('./metrics-registry.js').then((m) => m.registryFor(this));
    const registry = await this.registry;
    return { text: await registry.metrics(), contentType: registry.contentType };
  }
}
