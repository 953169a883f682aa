import { effectiveMtls } from '../policy/mtls.js';
import { destinationKey, type AuthorizationPolicySpec, type PeerAuthenticationSpec, type PolicyObject, type WorkloadView } from './view.js';

/**
 * `meshid describe pod`'s text: what the control plane tells that pod's sidecar. The mTLS mode of each port is
 * what the sidecar enforces (effectiveMtls, the narrowest PeerAuthentication winning); the applicable objects
 * follow as they are, AuthorizationPolicies evaluated DENY before ALLOW.
 */
export function describeView(view: WorkloadView): string {
  const { pod } = view;
  const scope = (o: PolicyObject<{ selector?: { matchLabels?: Record<string, string> } }>) =>
    o.spec.selector?.matchLabels ? 'workload' : o.namespace === view.rootNamespace ? 'mesh-wide' : 'namespace';
  const lines = [
    `Pod:          ${pod.namespace}/${pod.name}`,
    `Identity:     spiffe://${view.trustDomain}/ns/${pod.namespace}/sa/${pod.serviceAccount}`,
    `IPs:          ${pod.ips.join(', ') || '(none yet)'}`,
    `View version: ${view.version}`,
    `Inbound ports (from the Services selecting the pod): ${view.inboundPorts.map((p) => `${p.port}/${p.http ? 'http' : 'tcp'}`).join(', ') || 'none'}`,
    '',
    'mTLS mode per inbound port (what the sidecar enforces)',
    ...list(effectiveMtls(view).map((m) => `${m.port === null ? 'every other port' : `port ${m.port}`}: ${m.mode}`)),
    'PeerAuthentications that apply (none: PERMISSIVE)',
    ...list(view.peerAuthentications.map((p) => `${p.namespace}/${p.name}  ${scope(p)}  ${peerAuthText(p.spec)}`)),
    '',
    'Who may call it: AuthorizationPolicies that apply (none: everyone)',
    ...list(view.authorizationPolicies.map((p) => `${p.namespace}/${p.name}  ${scope(p)}  ${authorizationText(p.spec)}`)),
    '',
    'Destinations that get mTLS, with the identities accepted there (everything else passes through)',
    ...list(view.destinations.map((d) => `${destinationKey(d)}  ${d.identities.join(', ')}`)),
  ];
  return `${lines.join('\n')}\n`;
}

function list(items: string[]): string[] {
  return items.length ? items.map((i) => `  ${i}`) : ['  (none)'];
}

function peerAuthText(spec: PeerAuthenticationSpec): string {
  const ports = Object.entries(spec.portLevelMtls ?? {}).map(([port, v]) => `port ${port}: ${v.mode}`);
  return [`mode ${spec.mtls?.mode ?? 'UNSET'}`, ...ports].join(', ');
}

function authorizationText(spec: AuthorizationPolicySpec): string {
  if (!spec.rules?.length) return `${spec.action ?? 'ALLOW'}, no rules${(spec.action ?? 'ALLOW') === 'ALLOW' ? ' (denies all)' : ''}`;
  return `${spec.action ?? 'ALLOW'}, ${spec.rules.length} rule${spec.rules.length === 1 ? '' : 's'}: ${JSON.stringify(spec.rules)}`;
}
