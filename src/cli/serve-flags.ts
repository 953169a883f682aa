import { DEFAULT_MESHID_IMAGE, PROXY_IMAGE_ENV } from '../common/image.js';
import { SERVE_DEFAULTS, TOKEN_VERIFIERS } from '../controlplane/config.js';
import { DEFAULT_LISTEN_ADDRESS } from '../controlplane/listen.js';
import { flagHelp, type FlagTable } from './flags.js';
import { LOG_FLAGS } from './log-flags.js';

const d = SERVE_DEFAULTS;
export const SERVE_FLAGS = {
  local: { type: 'boolean', help: `keep the CA material and the token issuer in --data-dir; no cluster needed` },
  'data-dir': { type: 'string', arg: 'DIR', path: true, help: `with --local: the CA material (plug-in layout) and token issuer (default ${d['data-dir']})` },
  'trust-domain': { type: 'string', arg: 'TD', help: `the SPIFFE trust domain (default ${d['trust-domain']})` },
  'listen-address': { type: 'string', arg: 'IP', help: `where all its ports listen (default ${DEFAULT_LISTEN_ADDRESS}, every interface, IPv4 and IPv6; 0.0.0.0\nif the host has no IPv6); 127.0.0.1 keeps them on this machine` },
  'webhook-port': { type: 'string', arg: 'N', help: `HTTPS admission webhook, POST /inject (default ${d['webhook-port']}; 0 = any free port)` },
  'ca-port': { type: 'string', arg: 'N', help: `HTTPS CA API, POST /v1/certificates (default ${d['ca-port']}; 0 = any free port)` },
  'istio-ca-port': { type: 'string', arg: 'N', help: `Istio-compatible CA API over gRPC with TLS (default ${d['istio-ca-port']}; 0 = any free port)` },
  'ca-max-in-flight': { type: 'string', arg: 'N', help: `CA requests answered at once (default ${d['ca-max-in-flight']}); past it a request gets 429 with\nRetry-After right away, which agents honour, instead of waiting until it times out` },
  'monitoring-port': { type: 'string', arg: 'N', help: `HTTP /metrics, /healthz, /readyz (default ${d['monitoring-port']}; 0 = any free port)` },
  'proxy-image': { type: 'string', arg: 'IMAGE', help: `the image written for meshid-init and meshid-proxy (env ${PROXY_IMAGE_ENV};\ndefault ${DEFAULT_MESHID_IMAGE}); a pod's sidecar.meshid.io/proxyImage annotation still wins` },
  'workload-cert-ttl': { type: 'string', arg: 'DURATION', help: `the lifetime of a workload certificate that asks for none (default ${d['workload-cert-ttl']}, at least 10s)` },
  'max-workload-cert-ttl': { type: 'string', arg: 'DURATION', help: `the longest lifetime a workload may ask for (default ${d['max-workload-cert-ttl']})` },
  'bundle-propagation-delay': { type: 'string', arg: 'DURATION', help: `how long a new root sits in the trust bundle before it signs (default ${d['bundle-propagation-delay']})` },
  kubeconfig: { type: 'string', arg: 'FILE', path: true, help: 'cluster mode: the cluster to use (default: in-cluster config, else $KUBECONFIG or ~/.kube/config)' },
  'token-verifier': { type: 'string', arg: 'KIND', choices: TOKEN_VERIFIERS, help: `cluster mode: ${TOKEN_VERIFIERS.join(' or ')} (default ${d['token-verifier']}): check workload tokens against the\ncluster's service account issuer keys, or ask the API server (TokenReview) for each one` },
  'require-bound-pod': { type: 'boolean', help: 'cluster mode: refuse tokens not bound to a pod, and tokens whose pod no longer exists' },
  'ca-trusted-node-accounts': { type: 'string', arg: 'NS/SA,...', help: 'cluster mode: node agents (such as ztunnel) that may ask the Istio CA API for the certificate\nof a service account with a pod on their own node (ImpersonatedIdentity)' },
  'istio-compat': { type: 'boolean', help: 'cluster mode: also publish the trust bundle as ConfigMap istio-ca-root-cert (key root-cert.pem), for Istio sidecars' },
  'pod-certificate-deny': { type: 'string', arg: 'NS[/SA],...', help: 'cluster mode: namespaces (NS) and service accounts (NS/SA) whose PodCertificateRequests for\nmeshid.io/svid are denied (reason IdentityExcluded)' },
  ...LOG_FLAGS,
} as const satisfies FlagTable;

export const SERVE_USAGE = `usage: meshid serve [flags]

Runs the control plane: CA API (${d['ca-port']}), Istio-compatible CA API over gRPC (${d['istio-ca-port']}),
injection webhook (${d['webhook-port']}), metrics and health (${d['monitoring-port']}).
With --local the CA material and the token issuer live in a folder. Without it (cluster mode) it uses the
Kubernetes API: CA material in Secret meshid-ca (or the operator's cacerts), the trust bundle published as
ConfigMap meshid-ca-root-cert in every namespace, the webhook's caBundle kept current, one replica leading
through Lease meshid-leader.

${flagHelp(SERVE_FLAGS)}`;
