import { Counter, Histogram, type Registry } from 'prom-client';

export interface InjectorMetrics {
  requests: Counter;
  injected: Counter;
  skipped: Counter<'reason'>;
  failed: Counter<'reason'>;
  duration: Histogram;
}

/** Registered once per registry; a second webhook on the same registry shares the series. */
export function injectorMetrics(registry: Registry): InjectorMetrics {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  const registers = [registry];
  return {
    requests: get('meshid_injector_requests_total', () => new Counter({
      name: 'meshid_injector_requests_total', help: 'AdmissionReview requests received on /inject', registers,
    })),
    injected: get('meshid_injector_injected_total', () => new Counter({
      name: 'meshid_injector_injected_total', help: 'Pods given a sidecar (dry runs not counted)', registers,
    })),
    skipped: get('meshid_injector_skipped_total', () => new Counter({
      name: 'meshid_injector_skipped_total', help: 'Requests admitted without injection, by reason', labelNames: ['reason'] as const, registers,
    })),
    failed: get('meshid_injector_failed_total', () => new Counter({
      name: 'meshid_injector_failed_total', help: 'Requests refused or not answerable, by reason', labelNames: ['reason'] as const, registers,
    })),
    duration: get('meshid_injector_request_duration_seconds', () => new Histogram({
      name: 'meshid_injector_request_duration_seconds',
      help: 'Time to answer one AdmissionReview',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    })),
  };
}
