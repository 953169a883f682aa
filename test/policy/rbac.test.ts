import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { PackageDefinition } from '@grpc/proto-loader';
import { loadEnvoyProtos } from '../../src/agent/envoy-protos.js';
import type { InboundPort } from '../../src/mesh/view.js';
import { rbacFilters } from '../../src/policy/rbac.js';
import { ENVOY_RBAC_PROTOS, filterProblems } from '../helpers/envoy-config-check.js';
import { decide } from '../helpers/envoy-rbac.js';
import { authz, ROOT_NS, spiffe, validated, viewFor } from './support.js';

const CALLERS: Record<string, string | null> = {
  A: spiffe('default', 'a'), B: spiffe('default', 'b'), C: spiffe('shop', 'c'),
  X: 'spiffe://other.example/ns/default/sa/a', plain: null,
};
/** 8080 is declared HTTP, 9090 TCP; 7000 no Service declares (the every-other-port chain, taken as TCP). */
const PORTS: Record<number, InboundPort | null> = { 8080: { port: 8080, http: true }, 9090: { port: 9090, http: false }, 7000: null };
const INBOUND = [PORTS[8080]!, PORTS[9090]!];

/** caller, port, method path (HTTP ports only), expected. */
type Req = [keyof typeof CALLERS, number, string, 'allow' | 'deny'];
const P = (spec: unknown, name = 'p', ns = 'default') => authz(ns, name, spec);
const from = (source: unknown) => ({ from: [{ source }] });
const to = (operation: unknown) => ({ to: [{ operation }] });

const CASES: Array<{ name: string; objects: unknown[]; requests: Req[] }> = [
  { name: 'no policy allows all, plaintext too', objects: [], requests: [['A', 8080, 'GET /', 'allow'], ['plain', 9090, '', 'allow'], ['plain', 7000, '', 'allow']] },
  { name: 'an empty spec denies all', objects: [P({})], requests: [['A', 8080, 'GET /', 'deny'], ['A', 9090, '', 'deny'], ['plain', 7000, '', 'deny']] },
  { name: 'ALLOW with no rules denies all', objects: [P({ action: 'ALLOW', rules: [] })], requests: [['A', 8080, 'GET /', 'deny'], ['B', 9090, '', 'deny']] },
  { name: 'an empty rule matches everything', objects: [P({ rules: [{}] })], requests: [['plain', 8080, 'DELETE /x', 'allow'], ['C', 9090, '', 'allow']] },
  {
    name: 'principals: exact, in our trust domain only', objects: [P({ rules: [from({ principals: ['cluster.local/ns/default/sa/a'] })] })],
    requests: [['A', 8080, 'GET /', 'allow'], ['A', 9090, '', 'allow'], ['B', 8080, 'GET /', 'deny'], ['X', 9090, '', 'deny'], ['plain', 9090, '', 'deny']],
  },
  {
    name: 'principals: prefix', objects: [P({ rules: [from({ principals: ['cluster.local/ns/default/*'] })] })],
    requests: [['A', 9090, '', 'allow'], ['B', 9090, '', 'allow'], ['C', 9090, '', 'deny']],
  },
  { name: 'principals: suffix', objects: [P({ rules: [from({ principals: ['*/sa/c'] })] })], requests: [['C', 9090, '', 'allow'], ['A', 9090, '', 'deny']] },
  {
    name: 'principals: * is any meshed peer, never plaintext', objects: [P({ rules: [from({ principals: ['*'] })] })],
    requests: [['A', 8080, 'GET /', 'allow'], ['X', 9090, '', 'allow'], ['plain', 8080, 'GET /', 'deny'], ['plain', 9090, '', 'deny']],
  },
  {
    name: 'notPrincipals (plaintext has no principal, so it is not one of them)', objects: [P({ rules: [from({ notPrincipals: ['cluster.local/ns/default/sa/a'] })] })],
    requests: [['A', 9090, '', 'deny'], ['B', 9090, '', 'allow'], ['plain', 9090, '', 'allow']],
  },
  {
    name: 'namespaces: exact, prefix, suffix', objects: [P({ rules: [from({ namespaces: ['shop'] })] }, 'a'), P({ rules: [from({ namespaces: ['de*', '*ult'] })] }, 'b')],
    requests: [['C', 9090, '', 'allow'], ['A', 9090, '', 'allow'], ['plain', 9090, '', 'deny']],
  },
  { name: 'namespaces: a prefix does not match across path segments', objects: [P({ rules: [from({ namespaces: ['sho*'] })] })], requests: [['C', 9090, '', 'allow'], ['A', 9090, '', 'deny']] },
  { name: 'namespaces: *', objects: [P({ rules: [from({ namespaces: ['*'] })] })], requests: [['C', 9090, '', 'allow'], ['plain', 9090, '', 'deny']] },
  { name: 'notNamespaces', objects: [P({ rules: [from({ notNamespaces: ['default'] })] })], requests: [['C', 9090, '', 'allow'], ['A', 9090, '', 'deny'], ['plain', 9090, '', 'allow']] },
  {
    name: 'the fields of one source are ANDed, sources ORed',
    objects: [P({ rules: [{ from: [{ source: { principals: ['cluster.local/*'], notNamespaces: ['shop'] } }, { source: { principals: ['*/sa/c'], namespaces: ['shop'] } }] }] })],
    requests: [['A', 9090, '', 'allow'], ['C', 9090, '', 'allow'], ['X', 9090, '', 'deny']],
  },
  { name: 'ports', objects: [P({ rules: [to({ ports: ['8080', '7000'] })] })], requests: [['A', 8080, 'GET /', 'allow'], ['plain', 7000, '', 'allow'], ['A', 9090, '', 'deny']] },
  { name: 'notPorts', objects: [P({ rules: [to({ notPorts: ['9090'] })] })], requests: [['A', 8080, 'GET /', 'allow'], ['A', 9090, '', 'deny'], ['A', 7000, '', 'allow']] },
  {
    name: 'methods on an HTTP port; on TCP ports an ALLOW rule naming them is dropped', objects: [P({ rules: [to({ methods: ['GET', 'HEAD'] })] })],
    requests: [['A', 8080, 'GET /', 'allow'], ['plain', 8080, 'HEAD /', 'allow'], ['A', 8080, 'POST /', 'deny'], ['A', 9090, '', 'deny'], ['A', 7000, '', 'deny']],
  },
  { name: 'methods: prefix and *', objects: [P({ rules: [to({ methods: ['P*'] })] }, 'a'), P({ rules: [to({ methods: ['*'], ports: ['8081'] })] }, 'b')], requests: [['A', 8080, 'PUT /', 'allow'], ['A', 8080, 'GET /', 'deny']] },
  { name: 'notMethods', objects: [P({ rules: [to({ notMethods: ['DELETE'] })] })], requests: [['A', 8080, 'GET /', 'allow'], ['A', 8080, 'DELETE /', 'deny']] },
  {
    name: 'paths: exact, prefix, suffix; the query is not part of the path', objects: [P({ rules: [to({ paths: ['/a', '/api/*', '*.png'] })] })],
    requests: [['A', 8080, 'GET /a', 'allow'], ['A', 8080, 'GET /a?x=1', 'allow'], ['A', 8080, 'GET /a/b', 'deny'], ['A', 8080, 'GET /api/v1', 'allow'], ['A', 8080, 'GET /api', 'deny'], ['A', 8080, 'GET /img/x.png', 'allow']],
  },
  { name: 'paths: *', objects: [P({ rules: [to({ paths: ['*'] })] })], requests: [['A', 8080, 'GET /anything', 'allow']] },
  { name: 'notPaths', objects: [P({ rules: [to({ notPaths: ['/admin/*'] })] })], requests: [['A', 8080, 'GET /admin/x', 'deny'], ['A', 8080, 'GET /x', 'allow']] },
  {
    name: 'within a rule, from and to must both match (never split across filters)',
    objects: [P({ rules: [{ ...from({ principals: ['cluster.local/ns/default/sa/a'] }), ...to({ methods: ['GET'] }) }, { ...from({ principals: ['cluster.local/ns/default/sa/b'] }), ...to({ methods: ['POST'] }) }] })],
    requests: [['A', 8080, 'GET /', 'allow'], ['A', 8080, 'POST /', 'deny'], ['B', 8080, 'POST /', 'allow'], ['B', 8080, 'GET /', 'deny'], ['C', 8080, 'GET /', 'deny']],
  },
  {
    name: 'DENY is evaluated before ALLOW',
    objects: [P({ rules: [from({ principals: ['cluster.local/ns/default/*'] })] }, 'allow'), P({ action: 'DENY', rules: [from({ principals: ['cluster.local/ns/default/sa/b'] })] }, 'deny')],
    requests: [['A', 8080, 'GET /', 'allow'], ['B', 8080, 'GET /', 'deny'], ['B', 9090, '', 'deny'], ['C', 9090, '', 'deny']],
  },
  { name: 'DENY alone leaves the rest allowed', objects: [P({ action: 'DENY', rules: [from({ namespaces: ['shop'] })] })], requests: [['C', 9090, '', 'deny'], ['A', 9090, '', 'allow'], ['plain', 8080, 'GET /', 'allow']] },
  { name: 'DENY with an empty rule denies all', objects: [P({ action: 'DENY', rules: [{}] })], requests: [['A', 8080, 'GET /', 'deny'], ['plain', 9090, '', 'deny']] },
  { name: 'DENY with no rules denies nothing', objects: [P({ action: 'DENY' })], requests: [['A', 8080, 'GET /', 'allow']] },
  {
    name: 'DENY naming methods: per request on HTTP ports; on TCP ports it matches on its other fields',
    objects: [P({ action: 'DENY', rules: [{ ...from({ principals: ['cluster.local/ns/default/sa/b'] }), ...to({ methods: ['POST'] }) }] })],
    requests: [['B', 8080, 'GET /', 'allow'], ['B', 8080, 'POST /', 'deny'], ['B', 9090, '', 'deny'], ['B', 7000, '', 'deny'], ['A', 9090, '', 'allow']],
  },
  {
    name: 'DENY with ports and paths on a TCP port keeps its port',
    objects: [P({ action: 'DENY', rules: [to({ ports: ['9090'], paths: ['/admin'] })] })],
    requests: [['A', 9090, '', 'deny'], ['A', 7000, '', 'allow'], ['A', 8080, 'GET /admin', 'allow']],
  },
  { name: 'a policy in the root namespace is mesh-wide', objects: [P({ rules: [from({ namespaces: ['shop'] })] }, 'mesh', ROOT_NS)], requests: [['C', 9090, '', 'allow'], ['A', 9090, '', 'deny']] },
  {
    name: "another namespace's policy and a selector for other pods do not apply",
    objects: [P({}, 'p', 'shop'), P({ selector: { matchLabels: { app: 'db' } } }, 'db')],
    requests: [['A', 9090, '', 'allow']],
  },
];

describe('rbacFilters: AuthorizationPolicy as Envoy RBAC, judged by Envoy semantics', () => {
  let defs: PackageDefinition;
  before(() => {
    defs = loadEnvoyProtos(ENVOY_RBAC_PROTOS);
  });

  for (const c of CASES) {
    it(c.name, () => {
      const view = viewFor({ namespace: 'default', labels: { app: 'web' } }, validated(c.objects), INBOUND);
      for (const [caller, port, request, want] of c.requests) {
        const filters = rbacFilters(view, PORTS[port]!);
        for (const f of [...filters.network, ...filters.http]) assert.deepEqual(filterProblems(defs, f, `port ${port}`), []);
        const [method, path] = request ? request.split(' ') : [undefined, undefined];
        const got = decide(filters, { principal: CALLERS[caller]!, port, method, path });
        assert.equal(got, want, `${caller} -> ${port} ${request}`);
      }
    });
  }

  it('orders each layer DENY then ALLOW, and gives TCP ports no HTTP filters', () => {
    const view = viewFor({ labels: { app: 'web' } }, validated([P({ rules: [to({ methods: ['GET'] })] }, 'allow'), P({ action: 'DENY', rules: [to({ paths: ['/x'] }), from({ namespaces: ['shop'] })] }, 'deny')]), INBOUND);
    const actions = (fs: Array<{ typed_config: Record<string, unknown> }>) => fs.map((f) => (f.typed_config.rules as { action: string }).action);
    const http = rbacFilters(view, PORTS[8080]!);
    assert.deepEqual([actions(http.network), actions(http.http)], [['DENY', 'ALLOW'], ['DENY', 'ALLOW']]);
    const tcp = rbacFilters(view, PORTS[9090]!);
    assert.deepEqual([actions(tcp.network), tcp.http], [['DENY', 'ALLOW'], []]);
  });

  it('the proto check does catch a field Envoy does not know and a @type it cannot resolve', () => {
    const [f] = rbacFilters(viewFor({ labels: {} }, validated([P({})])), null).network;
    assert.match(filterProblems(defs, { ...f!, typed_config: { ...f!.typed_config, rulez: {} } }, 'f').join(), /rulez: .* has no such field/);
    assert.match(filterProblems(defs, { ...f!, typed_config: { ...f!.typed_config, '@type': 'type.googleapis.com/envoy.Nope' } }, 'f').join(), /unknown message type envoy.Nope/);
  });
});
