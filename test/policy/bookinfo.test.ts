import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadEnvoyProtos } from '../../src/agent/envoy-protos.js';
import { planSidecar } from '../../src/policy/plan-sidecar.js';
import { ENVOY_RBAC_PROTOS, filterProblems } from '../helpers/envoy-config-check.js';
import { decide } from '../helpers/envoy-rbac.js';
import { exampleObjects, spiffe, validated, viewFor } from './support.js';

/** The bookinfo services: one HTTP port each (9080, `name: http`), a service account per service. */
const SERVICES = ['productpage', 'details', 'reviews', 'ratings'] as const;
type Service = (typeof SERVICES)[number];
const PORT = 9080;

function plan(service: Service) {
  const view = viewFor({ name: `${service}-v1-0`, serviceAccount: `bookinfo-${service}`, labels: { app: service, version: 'v1' } }, validated(exampleObjects()), [{ port: PORT, http: true }]);
  view.destinations = [{ address: '10.96.0.20', port: PORT, identities: [spiffe('default', 'bookinfo-details')] }];
  return planSidecar(view);
}

const caller = (name: string) => (name === 'meshed' ? spiffe('tools', 'sleep') : spiffe('default', `bookinfo-${name}`));

/** Exactly the header comment of examples/bookinfo-policy.yaml. */
const EXPECTED: Array<[string, Service, string, 'allow' | 'deny']> = [
  ['productpage', 'details', 'GET /details/0', 'allow'], ['ratings', 'details', 'GET /details/0', 'deny'],
  ['productpage', 'reviews', 'GET /reviews/0', 'allow'], ['details', 'reviews', 'GET /reviews/0', 'deny'],
  ['reviews', 'ratings', 'GET /ratings/0', 'allow'], ['productpage', 'ratings', 'GET /ratings/0', 'deny'],
  ['meshed', 'productpage', 'GET /productpage', 'allow'], ['meshed', 'productpage', 'GET /static/x', 'allow'],
  ['meshed', 'productpage', 'GET /logout', 'allow'], ['meshed', 'productpage', 'GET /api/v1/products', 'allow'],
  ['meshed', 'productpage', 'POST /login', 'allow'], ['meshed', 'productpage', 'DELETE /productpage', 'deny'],
];

describe('the bookinfo policy set (examples/bookinfo-policy.yaml)', () => {
  const defs = loadEnvoyProtos(ENVOY_RBAC_PROTOS);

  for (const [from, to, request, want] of EXPECTED) {
    it(`${from} -> ${to} ${request}: ${want}`, () => {
      const port = plan(to).inbound.find((p) => p.port === PORT)!;
      const [method, path] = request.split(' ');
      assert.equal(decide({ network: port.networkRbac, http: port.httpRbac }, { principal: caller(from), port: PORT, method, path }), want);
    });
  }

  it('a plaintext client is refused everywhere: every port of every service is STRICT', () => {
    for (const s of SERVICES) assert.deepEqual(plan(s).inbound.map((p) => [p.port, p.mode]), [[PORT, 'STRICT'], [null, 'STRICT']], s);
  });

  it('every generated filter is one Envoy accepts', () => {
    for (const s of SERVICES) {
      for (const p of plan(s).inbound) {
        for (const f of [...p.networkRbac, ...p.httpRbac]) assert.deepEqual(filterProblems(defs, f, `${s}:${p.port}`), []);
      }
    }
  });

  it('ports no Service declares are denied (the allow rules name methods and paths, which a TCP chain cannot see)', () => {
    const other = plan('details').inbound.find((p) => p.port === null)!;
    assert.equal(decide({ network: other.networkRbac, http: other.httpRbac }, { principal: caller('productpage'), port: 15999 }), 'deny');
  });
});

describe('planSidecar', () => {
  it('per port: the mode, HTTP or not, the RBAC filters; outbound is the meshed destinations', () => {
    const p = plan('details');
    assert.equal(p.trustDomain, 'cluster.local');
    assert.deepEqual(p.inbound.map((e) => ({ port: e.port, http: e.http, network: e.networkRbac.length, httpRbac: e.httpRbac.length })), [
      { port: PORT, http: true, network: 1, httpRbac: 1 },
      { port: null, http: false, network: 1, httpRbac: 0 },
    ]);
    assert.deepEqual(p.outbound, [{ address: '10.96.0.20', port: PORT, identities: [spiffe('default', 'bookinfo-details')] }]);
  });

  it('with no policy: PERMISSIVE and no RBAC filter at all', () => {
    const p = planSidecar(viewFor({ labels: { app: 'x' } }, {}, [{ port: 8080, http: true }, { port: 5432, http: false }]));
    assert.deepEqual(p.inbound, [
      { port: 5432, mode: 'PERMISSIVE', http: false, networkRbac: [], httpRbac: [] },
      { port: 8080, mode: 'PERMISSIVE', http: true, networkRbac: [], httpRbac: [] },
      { port: null, mode: 'PERMISSIVE', http: false, networkRbac: [], httpRbac: [] },
    ]);
  });
});
