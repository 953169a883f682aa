import { Counter, type Registry } from 'prom-client';

export type IstioCaMetrics = Counter<'result'>;

export function istioCaMetrics(registry: Registry): IstioCaMetrics {
  return new Counter({
    name: 'meshid_istio_ca_certificates_total',
    help: 'Istio CA API (CreateCertificate) calls by result: issued, or the error code',
    labelNames: ['result'],
    registers: [registry],
  });
}
