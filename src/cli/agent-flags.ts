import { APP_PROBES_ENV } from '../common/app-probes-env.js';
import { formatDuration } from '../common/duration.js';
import { POD_ENV, VIEW_FILE } from '../common/pod-contract.js';
import { AGENT_DEFAULTS } from '../agent/config.js';
import { DEFAULT_RENEWAL } from '../agent/rotation.js';
import { flagHelp, type FlagTable } from './flags.js';
import { LOG_FLAGS } from './log-flags.js';

const d = AGENT_DEFAULTS;
export const AGENT_FLAGS = {
  once: { type: 'boolean', help: 'fetch one SVID, write it to --out-dir, and exit' },
  'once-timeout': { type: 'string', arg: 'DURATION', help: `with --once: keep retrying a CA that is down or not yet trusted this long\nbefore exiting non-zero (default ${d.onceTimeout})` },
  'out-dir': { type: 'string', arg: 'DIR', path: true, help: 'also write cert-chain.pem, key.pem (0600) and root-cert.pem to DIR' },
  'sds-socket': { type: 'string', arg: 'PATH', path: true, help: `SDS Unix socket (default ${d.sdsSocket})` },
  'workload-socket': { type: 'string', arg: 'PATH', path: true, help: `SPIFFE Workload API Unix socket (default ${d.workloadSocket})` },
  'ca-addr': { type: 'string', arg: 'URL', help: `CA address, https://host:port or host:port (env ${POD_ENV.caAddr})` },
  'ca-root': { type: 'string', arg: 'FILE', path: true, help: `trust bundle the CA is verified with (default ${d.caRootFile})` },
  'token-file': { type: 'string', arg: 'FILE', path: true, help: `projected ServiceAccount token (default ${d.tokenFile})` },
  namespace: { type: 'string', arg: 'NS', help: `pod namespace (env ${POD_ENV.namespace})` },
  'service-account': { type: 'string', arg: 'SA', help: `pod service account (env ${POD_ENV.serviceAccount})` },
  'trust-domain': { type: 'string', arg: 'TD', help: `SPIFFE trust domain (env ${POD_ENV.trustDomain}, default ${d.trustDomain})` },
  'cert-ttl': { type: 'string', arg: 'DURATION', help: 'requested certificate lifetime, e.g. 1h (at least 10s; default: the CA\'s)' },
  'grace-period-ratio': { type: 'string', arg: 'R', help: `renew once less than R of the certificate's life is left, 0 < R < 1\n(env ${POD_ENV.graceRatio}, default ${1 - DEFAULT_RENEWAL.fraction})` },
  'status-port': { type: 'string', arg: 'N', help: `/metrics and app probes (default ${d.statusPort}; 0 = any free port)` },
  'health-port': { type: 'string', arg: 'N', help: `/healthz/ready (default ${d.healthPort}; 0 = any free port)` },
  'envoy-binary': { type: 'string', arg: 'PATH', path: true, help: `start and supervise Envoy with the generated bootstrap (env ${POD_ENV.envoyBinary})` },
  'envoy-config': { type: 'string', arg: 'PATH', path: true, help: `where the bootstrap is written (default ${d.envoyConfigPath})` },
  'bundle-poll-interval': { type: 'string', arg: 'DURATION', help: `how often --ca-root is re-read for a changed trust bundle (default\n${formatDuration(d.bundlePollMs)}; keep it below serve's --bundle-propagation-delay)` },
  'pod-name': { type: 'string', arg: 'NAME', help: `this pod (env ${POD_ENV.podName}): when known, the agent follows the pod's mesh view\nfrom the control plane and writes it to ${VIEW_FILE} beside the SDS socket` },
  ...LOG_FLAGS,
} as const satisfies FlagTable;

export const AGENT_USAGE = `usage: meshid agent [flags]

The workload agent: fetches this pod's SPIFFE SVID from the meshid CA, serves it to Envoy over SDS and
to the pod's apps over the SPIFFE Workload API, renews it before expiry and follows root rotation.

${flagHelp(AGENT_FLAGS)}

Env ${POD_ENV.podIps} (the pod's IPs, comma-separated): when one is IPv6, Envoy also listens on [::].
Env ${APP_PROBES_ENV}: the app probes the injector rewrote to /app-health/ on the status port.`;
