/** Raw API objects as the API server stores them, for the mesh view's tests and the bench. */
import { STATUS_ANNOTATION } from '../../src/injector/constants.js';

type Obj = Record<string, any>;

export const INJECTED_STATUS = JSON.stringify({ version: 1, initContainers: ['meshid-init', 'meshid-proxy'], containers: [], volumes: ['meshid-certs'], created: [], defaultContainer: false, probes: {} });

export interface PodSpecOptions {
  sa?: string;
  ips?: string[];
  labels?: Record<string, string>;
  injected?: boolean;
  phase?: string;
  uid?: string;
  ports?: Array<{ name?: string; containerPort: number }>;
}

export function podObject(namespace: string, name: string, o: PodSpecOptions = {}): Obj {
  return {
    metadata: {
      name, namespace, uid: o.uid ?? `uid-${namespace}-${name}`, labels: o.labels ?? { app: name },
      ...(o.injected === false ? {} : { annotations: { [STATUS_ANNOTATION]: INJECTED_STATUS } }),
    },
    spec: { serviceAccountName: o.sa ?? name, containers: [{ name: 'app', image: 'app:1', ports: o.ports ?? [{ name: 'http', containerPort: 8080 }] }] },
    status: { phase: o.phase ?? 'Running', ...(o.ips?.length ? { podIP: o.ips[0], podIPs: o.ips.map((ip) => ({ ip })) } : {}) },
  };
}

export function serviceObject(namespace: string, name: string, o: { clusterIPs?: string[]; selector?: Record<string, string> | null; ports?: Obj[] } = {}): Obj {
  return {
    metadata: { name, namespace },
    spec: {
      clusterIP: o.clusterIPs?.[0] ?? 'None', clusterIPs: o.clusterIPs ?? ['None'],
      ...(o.selector === null ? {} : { selector: o.selector ?? { app: name } }),
      ports: o.ports ?? [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
    },
  };
}

export function sliceObject(namespace: string, service: string, endpoints: Array<{ pod?: string; ip: string; ready?: boolean }>, o: { name?: string; portNames?: string[] } = {}): Obj {
  return {
    metadata: { name: o.name ?? `${service}-abc`, namespace, labels: { 'kubernetes.io/service-name': service } },
    addressType: endpoints[0]?.ip.includes(':') ? 'IPv6' : 'IPv4',
    ports: (o.portNames ?? ['http']).map((name) => ({ name, port: 8080, protocol: 'TCP' })),
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip], conditions: { ready: e.ready ?? true },
      ...(e.pod ? { targetRef: { kind: 'Pod', namespace, name: e.pod } } : {}),
    })),
  };
}

export function policyObject(kind: 'PeerAuthentication' | 'AuthorizationPolicy', namespace: string, name: string, spec: Obj): Obj {
  return { apiVersion: 'security.meshid.io/v1', kind, metadata: { name, namespace }, spec };
}
