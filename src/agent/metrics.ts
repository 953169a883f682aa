import { Counter, Gauge, Registry } from 'prom-client';

/**
 * The agent's Prometheus metrics, in a registry of its own so that several agents in one process (tests,
 * bench) do not share counters.
 */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly certExpiry = new Gauge({
    name: 'meshid_agent_cert_expiry_timestamp_seconds',
    help: 'NotAfter of the SVID currently served, as a Unix timestamp',
    registers: [this.registry],
  });
  readonly renewals = new Counter({
    name: 'meshid_agent_renewals_total',
    help: 'SVID fetches from the CA, by result (success or the error code)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly sdsStreams = new Gauge({ name: 'meshid_agent_sds_streams', help: 'Open SDS streams', registers: [this.registry] });
  readonly sdsPushes = new Counter({
    name: 'meshid_agent_sds_pushes_total',
    help: 'SDS responses sent, by resource name',
    labelNames: ['resource'],
    registers: [this.registry],
  });
  readonly sdsNacks = new Counter({ name: 'meshid_agent_sds_nacks_total', help: 'SDS responses rejected by the proxy', registers: [this.registry] });
}
