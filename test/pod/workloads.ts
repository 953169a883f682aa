import { APP_IMAGE } from './harness.js';

type Obj = Record<string, any>;

/** A pod as the ReplicaSet or Job controller makes it from a template: generated name, the template's labels and spec. */
export function podFromTemplate(owner: Obj): Obj {
  const template = owner.kind === 'CronJob' ? owner.spec.jobTemplate.spec.template : owner.spec.template;
  const hash = 'h5d9c7';
  const labels = { ...template.metadata?.labels, ...(owner.kind === 'Deployment' ? { 'pod-template-hash': hash } : { 'batch.kubernetes.io/job-name': owner.metadata.name }) };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: owner.kind === 'Deployment' ? `${owner.metadata.name}-${hash}-` : `${owner.metadata.name}-`,
      namespace: owner.metadata.namespace,
      labels,
      ...(template.metadata?.annotations ? { annotations: template.metadata.annotations } : {}),
      ownerReferences: [{ apiVersion: owner.apiVersion, kind: owner.kind === 'Deployment' ? 'ReplicaSet' : 'Job', name: owner.metadata.name, uid: 'owner-uid', controller: true }],
    },
    spec: structuredClone(template.spec),
  };
}

/** The app of the probe tests: HTTP on a named port, TCP on a numbered one, gRPC health, each probe kind once per container. */
export function probedDeployment(namespace: string, annotations: Record<string, string> = {}): Obj {
  const web = {
    name: 'web', image: APP_IMAGE, args: ['--name', 'web', '--http-port', '8080', '--tcp-port', '9000', '--grpc-port', '9090'],
    ports: [{ name: 'http', containerPort: 8080 }, { containerPort: 9000 }, { name: 'grpc', containerPort: 9090 }],
    startupProbe: { tcpSocket: { port: 9000 }, periodSeconds: 1, failureThreshold: 30 },
    readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1, failureThreshold: 1 },
    livenessProbe: { grpc: { port: 9090 }, periodSeconds: 1, failureThreshold: 20 },
  };
  const worker = {
    name: 'worker', image: APP_IMAGE, args: ['--name', 'worker', '--http-port', '8081', '--tcp-port', '9100', '--grpc-port', '9190'],
    ports: [{ name: 'metrics', containerPort: 8081 }, { name: 'tcp', containerPort: 9100 }],
    startupProbe: { grpc: { port: 9190 }, periodSeconds: 1, failureThreshold: 30 },
    readinessProbe: { tcpSocket: { port: 'tcp' }, periodSeconds: 1, failureThreshold: 1 },
    livenessProbe: { httpGet: { path: '/healthz', port: 8081 }, periodSeconds: 1, failureThreshold: 20 },
  };
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' }, annotations }, spec: { serviceAccountName: 'web', containers: [web, worker] } },
    },
  };
}

/** A pod with one plain app container. */
export function plainPod(namespace: string, name: string, o: { labels?: Record<string, string>; annotations?: Record<string, string>; hostNetwork?: boolean; args?: string[] } = {}): Obj {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace, labels: { app: name, ...o.labels }, annotations: o.annotations ?? {} },
    spec: {
      serviceAccountName: 'default', ...(o.hostNetwork ? { hostNetwork: true } : {}),
      containers: [{
        name: 'app', image: APP_IMAGE, args: o.args ?? ['--name', name, '--http-port', '8080'], ports: [{ name: 'http', containerPort: 8080 }],
        readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
      }],
    },
  };
}
