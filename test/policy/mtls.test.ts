import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { effectiveMtls } from '../../src/policy/mtls.js';
import { peer, ROOT_NS, validated, viewFor } from './support.js';

const pod = { namespace: 'default', labels: { app: 'web' } };
const ports = [{ port: 8080, http: true }, { port: 9090, http: false }];
const sel = { matchLabels: { app: 'web' } };

/** Each case: the PeerAuthentications in the cluster and the mode per port (`*`: every other port). */
const CASES: Array<{ name: string; objects: unknown[]; want: Record<string, string>; pod?: typeof pod }> = [
  { name: 'no policy: PERMISSIVE everywhere', objects: [], want: { 8080: 'PERMISSIVE', 9090: 'PERMISSIVE', '*': 'PERMISSIVE' } },
  { name: 'mesh-wide STRICT', objects: [peer(ROOT_NS, 'default', { mtls: { mode: 'STRICT' } })], want: { 8080: 'STRICT', 9090: 'STRICT', '*': 'STRICT' } },
  { name: 'mesh-wide UNSET is the default', objects: [peer(ROOT_NS, 'default', { mtls: {} })], want: { 8080: 'PERMISSIVE', 9090: 'PERMISSIVE', '*': 'PERMISSIVE' } },
  {
    name: 'namespace beats mesh', objects: [peer(ROOT_NS, 'default', { mtls: { mode: 'STRICT' } }), peer('default', 'ns', { mtls: { mode: 'PERMISSIVE' } })],
    want: { 8080: 'PERMISSIVE', 9090: 'PERMISSIVE', '*': 'PERMISSIVE' },
  },
  {
    name: 'namespace UNSET inherits the mesh', objects: [peer(ROOT_NS, 'default', { mtls: { mode: 'STRICT' } }), peer('default', 'ns', { mtls: { mode: 'UNSET' } })],
    want: { 8080: 'STRICT', 9090: 'STRICT', '*': 'STRICT' },
  },
  {
    name: 'workload beats namespace and mesh',
    objects: [peer(ROOT_NS, 'default', { mtls: { mode: 'DISABLE' } }), peer('default', 'ns', { mtls: { mode: 'DISABLE' } }), peer('default', 'web', { selector: sel, mtls: { mode: 'STRICT' } })],
    want: { 8080: 'STRICT', 9090: 'STRICT', '*': 'STRICT' },
  },
  {
    name: 'workload UNSET inherits the namespace; its portLevelMtls sets one port',
    objects: [peer('default', 'ns', { mtls: { mode: 'STRICT' } }), peer('default', 'web', { selector: sel, mtls: { mode: 'UNSET' }, portLevelMtls: { 8080: { mode: 'DISABLE' } } })],
    want: { 8080: 'DISABLE', 9090: 'STRICT', '*': 'STRICT' },
  },
  {
    name: 'a port-level UNSET takes the workload mode; a port no Service declares gets its own entry',
    objects: [peer('default', 'web', { selector: sel, mtls: { mode: 'STRICT' }, portLevelMtls: { 9090: { mode: 'UNSET' }, 7000: { mode: 'PERMISSIVE' } } })],
    want: { 7000: 'PERMISSIVE', 8080: 'STRICT', 9090: 'STRICT', '*': 'STRICT' },
  },
  {
    name: 'a selector that matches another workload does not apply',
    objects: [peer('default', 'ns', { mtls: { mode: 'STRICT' } }), peer('default', 'other', { selector: { matchLabels: { app: 'db' } }, mtls: { mode: 'DISABLE' } })],
    want: { 8080: 'STRICT', 9090: 'STRICT', '*': 'STRICT' },
  },
  {
    name: 'a selector in the root namespace is ignored, as Istio ignores it',
    objects: [peer(ROOT_NS, 'web', { selector: sel, mtls: { mode: 'STRICT' } })],
    want: { 8080: 'PERMISSIVE', 9090: 'PERMISSIVE', '*': 'PERMISSIVE' },
  },
  { name: "another namespace's policy does not apply", objects: [peer('shop', 'ns', { mtls: { mode: 'STRICT' } })], want: { 8080: 'PERMISSIVE', 9090: 'PERMISSIVE', '*': 'PERMISSIVE' } },
  {
    name: 'two namespace policies: the first by name wins (Istio: the oldest)',
    objects: [peer('default', 'b', { mtls: { mode: 'DISABLE' } }), peer('default', 'a', { mtls: { mode: 'STRICT' } })],
    want: { 8080: 'STRICT', 9090: 'STRICT', '*': 'STRICT' },
  },
  {
    name: 'two workload policies: the first by name wins, with its port levels only',
    objects: [
      peer('default', 'z-web', { selector: sel, mtls: { mode: 'DISABLE' }, portLevelMtls: { 9090: { mode: 'PERMISSIVE' } } }),
      peer('default', 'a-web', { selector: sel, mtls: { mode: 'STRICT' }, portLevelMtls: { 8080: { mode: 'PERMISSIVE' } } }),
    ],
    want: { 8080: 'PERMISSIVE', 9090: 'STRICT', '*': 'STRICT' },
  },
  {
    name: 'in the root namespace itself a namespace policy is the mesh policy',
    pod: { namespace: ROOT_NS, labels: { app: 'web' } },
    objects: [peer(ROOT_NS, 'default', { mtls: { mode: 'STRICT' } })],
    want: { 8080: 'STRICT', 9090: 'STRICT', '*': 'STRICT' },
  },
];

const shown = (r: ReturnType<typeof effectiveMtls>) => Object.fromEntries(r.map((e) => [e.port === null ? '*' : String(e.port), e.mode]));

describe('effectiveMtls: PeerAuthentication scopes and precedence', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const view = viewFor(c.pod ?? pod, validated(c.objects), ports);
      assert.deepEqual(shown(effectiveMtls(view)), c.want);
    });
  }

  it('puts the every-other-port entry last and the ports in order', () => {
    const view = viewFor(pod, validated([peer('default', 'web', { selector: sel, portLevelMtls: { 9999: { mode: 'STRICT' }, 1: { mode: 'STRICT' } } })]), ports);
    assert.deepEqual(effectiveMtls(view).map((e) => e.port), [1, 8080, 9090, 9999, null]);
  });

  it('takes portLevelMtls only from a policy with a selector, even if a view carries one without', () => {
    // The validator refuses this object; a view built by other code must still not widen it to the namespace.
    const view = viewFor(pod, { peer: [{ namespace: 'default', name: 'ns', spec: { mtls: { mode: 'STRICT' }, portLevelMtls: { 8080: { mode: 'DISABLE' } } } }] }, ports);
    assert.deepEqual(shown(effectiveMtls(view)), { 8080: 'STRICT', 9090: 'STRICT', '*': 'STRICT' });
  });
});
