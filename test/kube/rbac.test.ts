import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { ManualClock } from '../../src/common/clock.js';
import { answerPodCertificate } from '../../src/ca/podcert/answer.js';
import { POD_CERTIFICATE } from '../../src/common/pod-contract.js';
import { BUNDLE_CONFIGMAP, BundleReconciler, ISTIO_BUNDLE_CONFIGMAP } from '../../src/kube/bundle-reconciler.js';
import { discoverCertificatesApis } from '../../src/kube/certificates-api.js';
import { ClusterTrustBundlePublisher } from '../../src/kube/cluster-trust-bundle.js';
import { apiNodePods } from '../../src/kube/node-pods.js';
import { PodCertificateController } from '../../src/kube/podcert-controller.js';
import { createKubeClients } from '../../src/kube/client.js';
import { clusterIssuer, clusterJwksFetcher } from '../../src/kube/cluster-oidc.js';
import { LeaderElector } from '../../src/kube/leader.js';
import { POLICY_GROUP, POLICY_KINDS, POLICY_VERSION } from '../../src/policy/api.js';
import { PodBoundVerifier } from '../../src/kube/pod-check.js';
import { SecretCaStore } from '../../src/kube/secret-store.js';
import { TokenReviewVerifier } from '../../src/kube/token-review.js';
import { ensureWebhookCaBundle } from '../../src/kube/webhook-cabundle.js';
import { FakeKube, type RecordedCall } from '../helpers/fake-kube.js';
import { type Manifest, renderKustomization } from './render-manifests.js';
import { makeCa } from '../helpers/ca-material.js';
import { requestBody } from '../helpers/kubelet-podcert.js';
import { waitFor } from '../helpers/wait.js';
import { publishedBundle, requestCert, startFakeCluster, startReplica, webhookCaBundles } from '../helpers/fake-cluster.js';

const NS = 'meshid-system';
const SA = { name: 'meshid', namespace: NS };

interface Rule { apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; verbs: string[]; nonResourceURLs?: string[] }
/** A rule granted to the service account, and where: a namespace (Role via RoleBinding) or everywhere. */
interface Grant { rule: Rule; namespace?: string; from: string }

/** The rules the meshid ServiceAccount holds, following bindings the way the RBAC authorizer does. */
function grantsFor(objs: Manifest[]): Grant[] {
  const roles = new Map(objs.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole').map((o) => [`${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, o]));
  const grants: Grant[] = [];
  for (const b of objs.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') as any[]) {
    if (!b.subjects.some((s: any) => s.kind === 'ServiceAccount' && s.name === SA.name && s.namespace === SA.namespace)) continue;
    const roleNs = b.roleRef.kind === 'Role' ? b.metadata.namespace : '';
    const role = roles.get(`${b.roleRef.kind}/${roleNs}/${b.roleRef.name}`) as any;
    assert.ok(role, `${b.kind} ${b.metadata.name} refers to ${b.roleRef.kind} ${b.roleRef.name}, which is in the install`);
    const namespace = b.kind === 'RoleBinding' ? b.metadata.namespace : undefined;
    for (const rule of role.rules as Rule[]) grants.push({ rule, namespace, from: `${role.kind} ${role.metadata.name}` });
  }
  return grants;
}

function allows(g: Grant, call: RecordedCall): boolean {
  const r = g.rule;
  if (!r.verbs.includes(call.verb)) return false;
  if (call.path !== undefined) return !!r.nonResourceURLs?.includes(call.path);
  if (r.nonResourceURLs) return false;
  if (g.namespace !== undefined && call.namespace !== g.namespace) return false;
  if (!r.apiGroups?.includes(call.group) || !r.resources?.includes(call.resource)) return false;
  // As the authorizer does: named rules match only requests that name the object (list/watch via metadata.name).
  return !r.resourceNames || (call.name !== undefined && r.resourceNames.includes(call.name));
}

/** What the mesh view watches, across all namespaces. */
const MESH_RESOURCES = [['core', 'pods'], ['core', 'services'], ['discovery.k8s.io', 'endpointslices'], ['security.meshid.io', 'peerauthentications'], ['security.meshid.io', 'authorizationpolicies']] as const;
const MESH_CALLS = MESH_RESOURCES.flatMap(([group, resource]) => ['list', 'watch'].map((verb) => `${verb} ${group}/${resource} (all namespaces)`));
/**
 * Kubernetes' default ClusterRole system:discovery, bound to system:authenticated: every client may read the
 * discovery documents. Granted by the cluster, not by the install, so left out of the least-privilege check.
 */
const DISCOVERY: Grant = { rule: { verbs: ['get'], nonResourceURLs: ['/apis', '/apis/certificates.k8s.io/v1', '/apis/certificates.k8s.io/v1beta1', '/apis/certificates.k8s.io/v1alpha1'] }, from: 'ClusterRole system:discovery (cluster default)' };

const show = (c: RecordedCall): string => c.path ? `${c.verb} ${c.path}` : `${c.verb} ${c.group || 'core'}/${c.resource}${c.namespace ? ` in ${c.namespace}` : ' (all namespaces)'}${c.name ? ` name=${c.name}` : ''}`;


describe('RBAC in manifests/ against every call src/kube makes', () => {
  let fake: FakeKube;
  let calls: RecordedCall[];
  /** What `meshid serve` in cluster mode (JWKS, bound-pod check) called, wired as it ships. */
  let wired: RecordedCall[];
  const cleanups: Array<() => unknown> = [];
  const grants = grantsFor(renderKustomization(join(process.cwd(), 'manifests')));

  /** Drives every component through its paths, as `meshid serve` in cluster mode does. */
  before(async () => {
    fake = await FakeKube.start();
    for (const name of [NS, 'default', 'shop']) fake.put('namespaces', { metadata: { name } });
    fake.put('pods', { metadata: { name: 'cart-0', namespace: 'shop', uid: 'uid-cart-0' } });
    fake.put('mutatingwebhookconfigurations', { metadata: { name: 'meshid-sidecar-injector' }, webhooks: [{ name: 'inject.meshid.io', clientConfig: {} }] });
    fake.tokenReview = (_t, audiences) => ({
      authenticated: true, audiences,
      user: { username: 'system:serviceaccount:shop:cart', extra: { 'authentication.kubernetes.io/pod-name': ['cart-0'], 'authentication.kubernetes.io/pod-uid': ['uid-cart-0'] } },
    });
    const k = createKubeClients(fake.kubeConfig());

    const store = new SecretCaStore({ core: k.core, watch: k.watch, namespace: NS, watchRetryMs: 20 });
    const stopWatch = store.watch(() => {});
    const created = await store.write({ 'root-cert.pem': 'ROOT' }, null);
    await store.write({ 'root-cert.pem': 'ROOT2' }, created.version);

    // meshid's ConfigMap, and Istio's (--istio-compat).
    const reconcilers = [BUNDLE_CONFIGMAP, ISTIO_BUNDLE_CONFIGMAP].map((configMapName) => new BundleReconciler({ core: k.core, watch: k.watch, configMapName, debounceMs: 5, watchRetryMs: 20 }));
    for (const reconciler of reconcilers) {
      reconciler.setBundle('ROOT');
      await reconciler.reconcileNow();
      reconciler.start();
      reconciler.setBundle('ROOT2');
      await waitFor(() => reconciler.progress().bundle === 'ROOT2' && reconciler.progress().published === 3, { what: 'reconciler' });
    }
    await apiNodePods(k.core).hasServiceAccountPod({ namespace: 'shop', serviceAccount: 'cart', node: 'node-a' });

    const clock = new ManualClock();
    const leader = new LeaderElector({ coordination: k.coordination, namespace: NS, identity: 'meshid-0', clock });
    await leader.tryAcquireOrRenew();
    await leader.tryAcquireOrRenew();
    await leader.stop();

    await new PodBoundVerifier({ inner: new TokenReviewVerifier({ authentication: k.authentication }), core: k.core }).verify('t');
    await ensureWebhookCaBundle(k.admission, 'PEM');
    await clusterIssuer(k.wellKnown);
    await clusterJwksFetcher(k.openid)();

    // The mesh view's reads of the policy CRDs (list + watch of every namespace, get of one), made here through the
    // client with the group and plurals src/policy/api.ts defines, as the control plane's watches make them.
    const custom = k.config.makeApiClient(CustomObjectsApi);
    for (const { plural } of Object.values(POLICY_KINDS)) {
      fake.put(plural, { metadata: { name: 'p', namespace: 'shop' }, spec: {} });
      await custom.listClusterCustomObject({ group: POLICY_GROUP, version: POLICY_VERSION, plural });
      await custom.getNamespacedCustomObject({ group: POLICY_GROUP, version: POLICY_VERSION, namespace: 'shop', plural, name: 'p' });
      const req = await k.watch.watch(`/apis/${POLICY_GROUP}/${POLICY_VERSION}/${plural}`, {}, () => {}, () => {});
      await waitFor(() => fake.calls.some((c) => c.verb === 'watch' && c.resource === plural));
      req.abort();
    }

    await waitFor(() => fake.calls.some((c) => c.verb === 'watch' && c.resource === 'secrets' && c.name === 'cacerts'));
    stopWatch();
    for (const reconciler of reconcilers) reconciler.stop();

    // The signer and the ClusterTrustBundle, through discovery; one answer made stale on its way, so the signer reads it again.
    const apis = await discoverCertificatesApis(k.config);
    const ctb = new ClusterTrustBundlePublisher({ config: k.config, version: apis.clusterTrustBundles!, name: POD_CERTIFICATE.clusterTrustBundle, signerName: POD_CERTIFICATE.signer });
    const ca = makeCa();
    await ctb.sync(ca.material.roots.join(''));
    await ctb.sync(makeCa().material.roots.join(''));
    fake.put('podcertificaterequests', requestBody({ namespace: 'shop', name: 'stale' }) as never);
    let staled = false;
    fake.beforeCall = (c) => {
      if (staled || c.resource !== 'podcertificaterequests/status') return;
      staled = true;
      fake.put('podcertificaterequests', { ...fake.get('podcertificaterequests', 'shop', 'stale')!, metadata: { name: 'stale', namespace: 'shop', labels: { touched: 'yes' } } });
    };
    const signer = new PodCertificateController({
      config: k.config, watch: k.watch, version: apis.podCertificateRequests!, signerName: POD_CERTIFICATE.signer, retryMs: 20,
      answer: (req) => answerPodCertificate(req, { signerName: POD_CERTIFICATE.signer, ca: ca.material, trustDomain: 'cluster.local', maxTtlMs: 86_400_000, now: Date.now(), random: randomBytes }),
    });
    signer.start();
    await waitFor(() => fake.statusWrites.get('shop/stale') === 1, { what: 'the stale request answered' });
    signer.stop();
    fake.beforeCall = () => {};

    const scope = { after: (fn: () => unknown) => void cleanups.push(fn) };
    const cluster = await startFakeCluster(scope);
    const cp = await startReplica(scope, cluster.fake, { identity: 'meshid-0', requireBoundPod: true, istioCompat: true });
    cluster.fake.put('podcertificaterequests', requestBody({ namespace: 'shop', name: 'wired' }) as never);
    const roots = cp.authority.current().roots.join('');
    const issued = await requestCert(cp, await cluster.token({ namespace: 'shop', serviceAccount: 'cart', pod: { name: 'cart-0', uid: 'uid-cart-0' } }), roots);
    assert.equal(issued.status, 200, issued.code);
    await waitFor(() => ['default', 'shop'].every((ns) => publishedBundle(cluster.fake, ns) === roots && publishedBundle(cluster.fake, ns, ISTIO_BUNDLE_CONFIGMAP) === roots) && webhookCaBundles(cluster.fake)[0] === roots
      && cluster.fake.calls.some((c) => c.verb === 'update' && c.resource === 'leases') && cluster.fake.statusWrites.get('shop/wired') === 1
      && cluster.fake.calls.some((c) => c.verb === 'create' && c.resource === 'clustertrustbundles')
      && MESH_RESOURCES.every(([, resource]) => cluster.fake.calls.some((c) => c.verb === 'watch' && c.resource === resource)), { what: 'wired' });
    await cp.close();
    wired = [...cluster.fake.calls];
    calls = [...fake.calls, ...wired];
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
    await fake.close();
  });

  it('the wired control plane made the calls of each of its parts', () => {
    const kinds = new Set(wired.map(show));
    for (const expected of [
      'get core/secrets in meshid-system name=cacerts', 'get core/secrets in meshid-system name=meshid-ca', 'create core/secrets in meshid-system',
      'watch core/secrets in meshid-system name=meshid-ca', 'watch core/secrets in meshid-system name=cacerts',
      'get /.well-known/openid-configuration', 'get /openid/v1/jwks', 'get core/pods in shop name=cart-0',
      'get coordination.k8s.io/leases in meshid-system name=meshid-leader', 'create coordination.k8s.io/leases in meshid-system',
      'update coordination.k8s.io/leases in meshid-system name=meshid-leader',
      'list core/namespaces (all namespaces)', 'watch core/namespaces (all namespaces)', 'create core/configmaps in shop',
      'list core/configmaps (all namespaces) name=meshid-ca-root-cert', 'watch core/configmaps (all namespaces) name=meshid-ca-root-cert',
      'list core/configmaps (all namespaces) name=istio-ca-root-cert', 'watch core/configmaps (all namespaces) name=istio-ca-root-cert',
      'get admissionregistration.k8s.io/mutatingwebhookconfigurations (all namespaces) name=meshid-sidecar-injector',
      'patch admissionregistration.k8s.io/mutatingwebhookconfigurations (all namespaces) name=meshid-sidecar-injector',
      ...MESH_CALLS,
      'get /apis', 'get /apis/certificates.k8s.io/v1beta1',
      'list certificates.k8s.io/podcertificaterequests (all namespaces)', 'watch certificates.k8s.io/podcertificaterequests (all namespaces)',
      'update certificates.k8s.io/podcertificaterequests/status in shop name=wired', 'sign certificates.k8s.io/signers (all namespaces) name=meshid.io/svid',
      'get certificates.k8s.io/clustertrustbundles (all namespaces) name=meshid.io:svid:roots', 'create certificates.k8s.io/clustertrustbundles (all namespaces)',
      'attest certificates.k8s.io/signers (all namespaces) name=meshid.io/svid',
    ]) assert.ok(kinds.has(expected), `expected the control plane to make: ${expected}\nmade:\n${[...kinds].join('\n')}`);
  });

  it('the scenario exercised every kind of call the code makes', () => {
    const kinds = new Set(calls.map(show));
    for (const expected of [
      'create core/secrets in meshid-system', 'update core/secrets in meshid-system name=meshid-ca', 'get core/secrets in meshid-system name=cacerts',
      'watch core/secrets in meshid-system name=meshid-ca', 'list core/namespaces (all namespaces)', 'watch core/namespaces (all namespaces)',
      'list core/configmaps (all namespaces) name=meshid-ca-root-cert', 'create core/configmaps in shop', 'update core/configmaps in shop name=meshid-ca-root-cert',
      'create coordination.k8s.io/leases in meshid-system', 'update coordination.k8s.io/leases in meshid-system name=meshid-leader',
      'create authentication.k8s.io/tokenreviews (all namespaces)', 'get core/pods in shop name=cart-0', 'list core/pods in shop',
      'update core/configmaps in shop name=istio-ca-root-cert',
      'patch admissionregistration.k8s.io/mutatingwebhookconfigurations (all namespaces) name=meshid-sidecar-injector', 'get /openid/v1/jwks',
      ...Object.values(POLICY_KINDS).flatMap(({ plural }) => [`list ${POLICY_GROUP}/${plural} (all namespaces)`, `watch ${POLICY_GROUP}/${plural} (all namespaces)`, `get ${POLICY_GROUP}/${plural} in shop name=p`]),
      'update certificates.k8s.io/clustertrustbundles (all namespaces) name=meshid.io:svid:roots', 'get certificates.k8s.io/podcertificaterequests in shop name=stale',
    ]) assert.ok(kinds.has(expected), `expected the scenario to make: ${expected}\nmade:\n${[...kinds].join('\n')}`);
  });

  it('allows every call the code made', () => {
    const denied = [...new Set(calls.filter((c) => ![...grants, DISCOVERY].some((g) => allows(g, c))).map(show))];
    assert.deepEqual(denied, [], `calls the install's RBAC would refuse:\n${denied.join('\n')}`);
  });

  it('grants nothing the code does not use (least privilege)', () => {
    const unused: string[] = [];
    for (const g of grants) {
      assert.ok(!g.rule.verbs.includes('*') && !g.rule.resources?.includes('*') && !g.rule.apiGroups?.includes('*'), `${g.from}: no wildcards`);
      for (const verb of g.rule.verbs) {
        const targets = g.rule.nonResourceURLs ?? g.rule.resourceNames ?? [undefined];
        for (const target of targets) {
          const used = calls.some((c) => c.verb === verb && allows({ ...g, rule: { ...g.rule, verbs: [verb], ...(g.rule.nonResourceURLs ? { nonResourceURLs: [target!] } : g.rule.resourceNames ? { resourceNames: [target!] } : {}) } }, c));
          if (!used) unused.push(`${g.from}: ${verb} ${g.rule.resources?.join(',') ?? ''}${target ? ` ${target}` : ''}`);
        }
      }
    }
    assert.deepEqual(unused, [], `granted but never used:\n${unused.join('\n')}`);
  });

  it('the authorizer model refuses what the install does not grant', () => {
    const refuse = (c: RecordedCall): void => assert.ok(!grants.some((g) => allows(g, c)), `should be refused: ${show(c)}`);
    refuse({ verb: 'get', group: '', resource: 'secrets', namespace: 'shop', name: 'meshid-ca' });
    refuse({ verb: 'list', group: '', resource: 'secrets', namespace: NS });
    refuse({ verb: 'update', group: '', resource: 'secrets', namespace: NS, name: 'cacerts' });
    refuse({ verb: 'list', group: '', resource: 'configmaps' });
    refuse({ verb: 'delete', group: '', resource: 'configmaps', namespace: 'shop', name: 'meshid-ca-root-cert' });
    refuse({ verb: 'patch', group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', name: 'other' });
    refuse({ verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-system', name: 'meshid-leader' });
    refuse({ verb: 'update', group: POLICY_GROUP, resource: POLICY_KINDS.AuthorizationPolicy.plural, namespace: 'shop', name: 'p' });
    refuse({ verb: 'delete', group: POLICY_GROUP, resource: POLICY_KINDS.PeerAuthentication.plural, namespace: 'shop', name: 'p' });
    refuse({ verb: 'patch', group: '', resource: 'pods', namespace: 'shop', name: 'cart-0' });
    refuse({ verb: 'list', group: '', resource: 'endpoints' });
    refuse({ verb: 'update', group: 'certificates.k8s.io', resource: 'podcertificaterequests', namespace: 'shop', name: 'r' });
    refuse({ verb: 'sign', group: 'certificates.k8s.io', resource: 'signers', name: 'kubernetes.io/kube-apiserver-client-pod' });
    refuse({ verb: 'update', group: 'certificates.k8s.io', resource: 'clustertrustbundles', name: 'other.io:x:roots' });
    refuse({ verb: 'delete', group: 'certificates.k8s.io', resource: 'clustertrustbundles', name: 'meshid.io:svid:roots' });
  });
});
