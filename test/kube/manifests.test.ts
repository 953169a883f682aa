import assert from 'node:assert/strict';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { CONTROL_PLANE_NAMESPACE, CONTROL_PLANE_PORTS, CONTROL_PLANE_SERVICE } from '../../src/common/control-plane.js';
import { DEFAULT_MESHID_IMAGE, MESHID_IMAGE_REPOSITORY, PROXY_IMAGE_ENV } from '../../src/common/image.js';
import { DEFAULT_INJECTOR_CONFIG } from '../../src/injector/config.js';
import { type Manifest, renderKustomization } from './render-manifests.js';

const ROOT = process.cwd();
const DIR = join(ROOT, 'manifests');

/** kubernetes-models has one class per apiVersion/kind, whose validate() checks the OpenAPI schema. */
async function validate(obj: Manifest): Promise<void> {
  const mod = (await import(`kubernetes-models/${obj.apiVersion}/${obj.kind}`)) as Record<string, new (o: unknown) => { validate(): void }>;
  const Model = mod[obj.kind];
  if (!Model) throw new Error(`no schema for ${obj.apiVersion} ${obj.kind}`);
  new Model(obj).validate();
}

const find = (objs: Manifest[], kind: string, name: string): any => {
  const found = objs.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `${kind} ${name} is in the install`);
  return found;
};

/** The container's image, the image it tells the injector to write, and an env entry that must stay as it was. */
function imagesOf(deployment: any): { image: string; proxyImage: string; podName: string } {
  const [container] = deployment.spec.template.spec.containers;
  const env = (name: string) => container.env.find((e: { name: string }) => e.name === name);
  return { image: container.image, proxyImage: env(PROXY_IMAGE_ENV)?.value, podName: env('POD_NAME')?.valueFrom?.fieldRef?.fieldPath };
}

describe('install manifests', () => {
  const rendered = renderKustomization(DIR);

  it('every object validates against the Kubernetes schema for its kind', async () => {
    assert.ok(rendered.length >= 9);
    for (const obj of rendered) await assert.doesNotReject(validate(obj), `${obj.kind} ${obj.metadata.name}`);
  });

  it('the schema check does catch an invalid object', async () => {
    const deployment = structuredClone(find(rendered, 'Deployment', 'meshid'));
    deployment.spec.replicas = 'two';
    await assert.rejects(validate(deployment));
  });

  it('every YAML file in manifests/ is part of the kustomization', () => {
    const unlisted = (dir: string): string[] => {
      const k = parseAllDocuments(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as { resources: string[]; configurations?: string[] };
      const listed = [...k.resources, ...(k.configurations ?? [])];
      const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
      const subdirs = listed.filter((r) => r.endsWith('/'));
      return [...files.filter((f) => !listed.includes(f)).map((f) => join(dir, f)), ...subdirs.flatMap((d) => unlisted(join(dir, d)))];
    };
    assert.deepEqual(unlisted(DIR), []);
    const top = readFileSync(join(DIR, 'kustomization.yaml'), 'utf8');
    for (const d of ['webhook/', 'crds/']) assert.match(top, new RegExp(`- ${d}\\n`), `${d} is included`);
  });

  it('matches the interface contract: namespace, account, ports, probes, replicas, command', () => {
    find(rendered, 'Namespace', CONTROL_PLANE_NAMESPACE);
    assert.equal(find(rendered, 'ServiceAccount', 'meshid').metadata.namespace, CONTROL_PLANE_NAMESPACE);
    const deployment = find(rendered, 'Deployment', 'meshid');
    const pod = deployment.spec.template.spec;
    const [container] = pod.containers;
    assert.equal(deployment.spec.replicas, 2);
    assert.equal(pod.serviceAccountName, 'meshid');
    assert.deepEqual(container.args, ['serve']);
    const { ca, istioCa, monitoring, webhook } = CONTROL_PLANE_PORTS;
    assert.deepEqual(container.ports.map((p: { containerPort: number }) => p.containerPort).sort(), [ca, istioCa, monitoring, webhook].sort());
    const port = (name: string) => container.ports.find((p: { name: string }) => p.name === name).containerPort;
    assert.deepEqual([container.livenessProbe.httpGet.path, port(container.livenessProbe.httpGet.port)], ['/healthz', monitoring]);
    assert.deepEqual([container.readinessProbe.httpGet.path, port(container.readinessProbe.httpGet.port)], ['/readyz', monitoring]);
    assert.ok(container.resources.requests.cpu && container.resources.requests.memory && container.resources.limits.memory);
    assert.ok(pod.affinity.podAntiAffinity, 'replicas spread over nodes');
    assert.ok(container.env.some((e: { name: string }) => e.name === 'POD_NAMESPACE') && container.env.some((e: { name: string }) => e.name === 'POD_NAME'));

    const service = find(rendered, 'Service', CONTROL_PLANE_SERVICE);
    assert.equal(service.metadata.namespace, CONTROL_PLANE_NAMESPACE);
    const targets = Object.fromEntries(service.spec.ports.map((p: { port: number; targetPort: string }) => [p.port, port(p.targetPort)]));
    const [host, caPort] = DEFAULT_INJECTOR_CONFIG.caAddress.split(':');
    assert.equal(host, `${service.metadata.name}.${service.metadata.namespace}.svc`, 'the CA address injected pods get names this Service');
    assert.equal(targets[Number(caPort)], ca, 'and a port of it that reaches the CA');
    assert.deepEqual(targets, { 443: webhook, [ca]: ca, [istioCa]: istioCa, [monitoring]: monitoring });
    assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);

    const pdb = find(rendered, 'PodDisruptionBudget', 'meshid');
    assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
    assert.ok(pdb.spec.minAvailable >= 1 && pdb.spec.minAvailable < deployment.spec.replicas);
  });

  it('the webhook configuration reaches the webhook port through the Service', () => {
    const service = find(rendered, 'Service', 'meshid');
    const container = find(rendered, 'Deployment', 'meshid').spec.template.spec.containers[0];
    const config = find(rendered, 'MutatingWebhookConfiguration', 'meshid-sidecar-injector');
    for (const hook of config.webhooks) {
      const ref = hook.clientConfig.service;
      assert.deepEqual([ref.name, ref.namespace, ref.path], [CONTROL_PLANE_SERVICE, CONTROL_PLANE_NAMESPACE, '/inject'], hook.name);
      const servicePort = service.spec.ports.find((p: { port: number }) => p.port === (ref.port ?? 443));
      assert.ok(servicePort, `${hook.name}: Service meshid has no port ${ref.port ?? 443}; it exposes ${service.spec.ports.map((p: { port: number }) => p.port).join(', ')}`);
      const target = container.ports.find((p: { name: string }) => p.name === servicePort.targetPort);
      assert.equal(target.containerPort, CONTROL_PLANE_PORTS.webhook, `${hook.name} reaches the webhook port`);
    }
  });

  it('runs under the restricted Pod Security Standard', () => {
    const pod = find(rendered, 'Deployment', 'meshid').spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    for (const c of pod.containers) {
      assert.equal(c.securityContext.allowPrivilegeEscalation, false);
      assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
      assert.equal(c.securityContext.capabilities.add, undefined);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    }
    assert.equal(pod.hostNetwork ?? false, false);
    assert.equal(find(rendered, 'Namespace', 'meshid-system').metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
  });

  it('one images entry in an overlay changes the release everywhere: the Deployment and what it injects', () => {
    const deployment = find(rendered, 'Deployment', 'meshid');
    assert.deepEqual(imagesOf(deployment), { image: DEFAULT_MESHID_IMAGE, proxyImage: DEFAULT_MESHID_IMAGE, podName: 'metadata.name' });
    const overlay = mkdtempSync(join(tmpdir(), 'meshid-overlay-'));
    try {
      writeFileSync(join(overlay, 'kustomization.yaml'), [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        `resources: [${JSON.stringify(relative(overlay, DIR))}]`,
        `images: [{name: ${MESHID_IMAGE_REPOSITORY}, newName: reg.example/meshid, newTag: x}]`,
      ].join('\n'));
      const built = find(renderKustomization(overlay), 'Deployment', 'meshid');
      assert.deepEqual(imagesOf(built), { image: 'reg.example/meshid:x', proxyImage: 'reg.example/meshid:x', podName: 'metadata.name' });
    } finally {
      rmSync(overlay, { recursive: true, force: true });
    }
  });

  it('so does the entry `kustomize edit set image` adds to the install itself', () => {
    const copy = mkdtempSync(join(tmpdir(), 'meshid-install-'));
    try {
      cpSync(DIR, copy, { recursive: true });
      appendFileSync(join(copy, 'kustomization.yaml'), `images:\n  - name: ${MESHID_IMAGE_REPOSITORY}\n    newName: reg.example/meshid\n    digest: sha256:${'b'.repeat(64)}\n`);
      const want = `reg.example/meshid@sha256:${'b'.repeat(64)}`;
      assert.deepEqual(imagesOf(find(renderKustomization(copy), 'Deployment', 'meshid')), { image: want, proxyImage: want, podName: 'metadata.name' });
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('no private key is committed with the install or the plug-in CA instructions', () => {
    for (const dir of [DIR, join(ROOT, 'certs')]) {
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir, { recursive: true }) as string[]) {
        const path = join(dir, f);
        if (f.endsWith('.md') || !existsSync(path) || !/\.(pem|key|ya?ml|crt)$/.test(f)) continue;
        assert.doesNotMatch(readFileSync(path, 'utf8'), /PRIVATE KEY-----/, path);
      }
    }
  });
});
