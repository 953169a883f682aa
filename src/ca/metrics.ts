import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface CaMetrics {
  issued: Counter<'result'>;
  latency: Histogram<'result'>;
  expiry: Gauge<'cert'>;
  jwtSvids: Counter<'result'>;
}

export function caMetrics(registry: Registry): CaMetrics {
  return {
    issued: new Counter({
      name: 'meshid_ca_certificates_total',
      help: 'Workload certificate requests by result: issued, or the error code',
      labelNames: ['result'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'meshid_ca_issuance_duration_seconds',
      help: 'Time to authenticate, check and sign one workload certificate request',
      labelNames: ['result'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers: [registry],
    }),
    expiry: new Gauge({
      name: 'meshid_ca_cert_expiry_timestamp_seconds',
      help: 'NotAfter of the CA certificates in use (signing CA and each trusted root), Unix seconds',
      labelNames: ['cert'],
      registers: [registry],
    }),
    jwtSvids: new Counter({
      name: 'meshid_ca_jwt_svids_total',
      help: 'JWT-SVID requests by result: issued, or the error code',
      labelNames: ['result'],
      registers: [registry],
    }),
  };
}
