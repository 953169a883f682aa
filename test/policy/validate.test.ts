import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_SPEC_BYTES, validatePolicyObject } from '../../src/policy/validate.js';
import { authz, exampleObjects, peer } from './support.js';

const rule = (r: unknown) => authz('default', 'p', { rules: [r] });
const src = (s: unknown) => rule({ from: [{ source: s }] });
const op = (o: unknown) => rule({ to: [{ operation: o }] });
const P = 'is not a principal (trust-domain/ns/NS/sa/SA, or * prefix/suffix)';

/** Each case: an object and exactly the errors it must get, in order. */
const INVALID: Array<[string, unknown, string[]]> = [
  ['unknown mode', peer('default', 'p', { mtls: { mode: 'STRICTER' } }), ['spec.mtls.mode: "STRICTER" is not one of UNSET, DISABLE, PERMISSIVE, STRICT']],
  ['mode of the wrong type', peer('default', 'p', { mtls: 'STRICT' }), ['spec.mtls: must be an object, not a string']],
  ['portLevelMtls without a selector', peer('default', 'p', { portLevelMtls: { 8080: { mode: 'STRICT' } } }), ['spec.portLevelMtls: needs a selector: port-level modes apply to selected workloads only (as in Istio)']],
  ['portLevelMtls: a bad port and a missing mode', peer('default', 'p', { selector: { matchLabels: { app: 'a' } }, portLevelMtls: { http: { mode: 'STRICT' }, 80: {} } }), ['spec.portLevelMtls["80"].mode: is required', 'spec.portLevelMtls["http"]: "http" is not a port (1-65535)']],
  ['a malformed principal, named by its path', authz('default', 'p', { rules: [{}, {}, { from: [{ source: { principals: ['cluster.local/ns/a/sa/b', 'x y'] } }] }] }), [`spec.rules[2].from[0].source.principals[1]: "x y" ${P}`]],
  ['a principal written as a SPIFFE ID', src({ principals: ['spiffe://cluster.local/ns/a/sa/b'] }), [`spec.rules[0].from[0].source.principals[0]: "spiffe://cluster.local/ns/a/sa/b" ${P}: write it without spiffe://`]],
  ['a wildcard inside a principal', src({ principals: ['cluster.local/*/sa/b'] }), [`spec.rules[0].from[0].source.principals[0]: "cluster.local/*/sa/b" ${P}`]],
  ['a principal with a bad namespace', src({ notPrincipals: ['cluster.local/ns/Bad_NS/sa/b'] }), [`spec.rules[0].from[0].source.notPrincipals[0]: "cluster.local/ns/Bad_NS/sa/b" ${P}: "Bad_NS" is not a namespace name`]],
  ['a bad namespace', src({ namespaces: ['a b'], notNamespaces: ['x*y'] }), ['spec.rules[0].from[0].source.namespaces[0]: "a b" is not a namespace (a name, or * prefix/suffix)', 'spec.rules[0].from[0].source.notNamespaces[0]: "x*y" is not a namespace (a name, or * prefix/suffix)']],
  ['ports out of range or not numbers', op({ ports: ['0', '65536', 'http'], notPorts: [80] }), ['spec.rules[0].to[0].operation.ports[0]: "0" is not a port (1-65535)', 'spec.rules[0].to[0].operation.ports[1]: "65536" is not a port (1-65535)', 'spec.rules[0].to[0].operation.ports[2]: "http" is not a port (1-65535)', 'spec.rules[0].to[0].operation.notPorts[0]: must be a string, not a number']],
  ['methods', op({ methods: ['get', 'G T'], notMethods: [''] }), ['spec.rules[0].to[0].operation.methods[0]: "get" is not an HTTP method (methods are upper case: GET)', 'spec.rules[0].to[0].operation.methods[1]: "G T" is not an HTTP method', 'spec.rules[0].to[0].operation.notMethods[0]: "" is not an HTTP method']],
  ['paths', op({ paths: ['api', '/a*b', '/a?x=1'], notPaths: ['/{**}'] }), [
    'spec.rules[0].to[0].operation.paths[0]: "api" is not a path (exact /a/b, prefix /a/*, suffix *.b, or *): it must start with /',
    'spec.rules[0].to[0].operation.paths[1]: "/a*b" is not a path (exact /a/b, prefix /a/*, suffix *.b, or *)',
    'spec.rules[0].to[0].operation.paths[2]: "/a?x=1" is not a path (exact /a/b, prefix /a/*, suffix *.b, or *)',
    'spec.rules[0].to[0].operation.notPaths[0]: "/{**}" is not a path (exact /a/b, prefix /a/*, suffix *.b, or *)',
  ]],
  ['unknown fields, typos included', authz('default', 'p', { selectr: {}, rules: [{ form: [] }] }), ['spec.selectr: is not a field here (expected selector, action, rules)', 'spec.rules[0].form: is not a field here (expected from, to)']],
  ['a misspelt source field', src({ principal: ['a'] }), ['spec.rules[0].from[0].source.principal: is not a field here (expected principals, notPrincipals, namespaces, notNamespaces)', 'spec.rules[0].from[0].source: must not be empty']],
  ['Istio fields meshid does not support', authz('default', 'p', { action: 'CUSTOM', provider: {}, rules: [{ when: [], from: [{ source: { ipBlocks: ['1.2.3.4'] } }], to: [{ operation: { hosts: ['x'] } }] }] }), [
    'spec.provider: is an Istio field meshid does not support', 'spec.action: CUSTOM is an Istio action meshid does not support (ALLOW, DENY)',
    'spec.rules[0].when: is an Istio field meshid does not support', 'spec.rules[0].from[0].source.ipBlocks: is an Istio field meshid does not support',
    'spec.rules[0].from[0].source: must not be empty', 'spec.rules[0].to[0].operation.hosts: is an Istio field meshid does not support', 'spec.rules[0].to[0].operation: must not be empty',
  ]],
  ['empty source, empty operation, empty from, from without source', authz('default', 'p', { rules: [{ from: [{ source: {} }], to: [{ operation: { ports: [] } }] }, { from: [] }, { to: [{}] }] }), [
    'spec.rules[0].from[0].source: must not be empty', 'spec.rules[0].to[0].operation: must not be empty', 'spec.rules[1].from: must not be empty (leave it out to match any)', 'spec.rules[2].to[0].operation: is required',
  ]],
  ['wrong JSON types everywhere', authz('default', 'p', { action: 1, selector: { matchLabels: { app: 1 } }, rules: [{ from: { source: {} } }, 'rule', { to: [{ operation: { methods: 'GET' } }] }] }), [
    'spec.selector.matchLabels["app"]: must be a string, not a number', 'spec.action: a number is not one of ALLOW, DENY', 'spec.rules[0].from: must be a list, not an object',
    'spec.rules[1]: must be an object, not a string', 'spec.rules[2].to[0].operation.methods: must be a list, not a string',
  ]],
  ['rules as an object', authz('default', 'p', { rules: {} }), ['spec.rules: must be a list, not an object']],
  ['a bad label', authz('default', 'p', { selector: { matchLabels: { 'bad key!': 'x', app: 'not valid!' } } }), ['spec.selector.matchLabels["bad key!"]: is not a label key', 'spec.selector.matchLabels["app"]: "not valid!" is not a label value']],
  ['10,000 rules', authz('default', 'p', { rules: Array.from({ length: 10_000 }, () => ({})) }), ['spec.rules: has 10000 entries; at most 1000 are allowed']],
  ['1,001 values in one list', src({ principals: Array.from({ length: 1001 }, (_, i) => `cluster.local/ns/a/sa/s${i}`) }), ['spec.rules[0].from[0].source.principals: has 1001 entries; at most 1000 are allowed']],
  ['a spec over 64 KiB', authz('default', 'p', { rules: [{ to: [{ operation: { paths: Array.from({ length: 700 }, (_, i) => `/${'x'.repeat(90)}${i}`) } }] }] }), [/^spec: is \d+ bytes of JSON; at most 65536 are allowed$/ as unknown as string]],
  ['a value over 1,024 characters', op({ paths: [`/${'a'.repeat(1100)}`] }), ['spec.rules[0].to[0].operation.paths[0]: is longer than 1024 characters']],
  ['a spec that is a string', authz('default', 'p', 'allow everything'), ['spec: must be an object, not a string']],
  ['a spec that is a list', authz('default', 'p', [{ rules: [] }]), ['spec: must be an object, not a list']],
  ['a spec that is null', authz('default', 'p', null), ['spec: must be an object, not null']],
  ["Istio's apiVersion", { ...authz('default', 'p', {}), apiVersion: 'security.istio.io/v1' }, ['apiVersion: "security.istio.io/v1" is Istio\'s; meshid reads security.meshid.io/v1 (change only the apiVersion)']],
  ['another kind', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: {} }, ['kind: "Pod" is not one of PeerAuthentication, AuthorizationPolicy', 'apiVersion: "v1" is not security.meshid.io/v1']],
  ['no name, a bad namespace', { apiVersion: 'security.meshid.io/v1', kind: 'AuthorizationPolicy', metadata: { namespace: 'Default' } }, ['metadata.name: is required', 'metadata.namespace: "Default" is not a namespace name']],
  ['metadata of the wrong type', { apiVersion: 'security.meshid.io/v1', kind: 'AuthorizationPolicy', metadata: 'x' }, ['metadata: must be an object, not a string']],
  ['not an object at all', 'AuthorizationPolicy', ['object: must be an object, not a string']],
  ['a field name that would break the line', authz('default', 'p', { 'a\nb': 1 }), ['spec["a\\nb"]: is not a field here (expected selector, action, rules)']],
  ['__proto__ as a field', { ...authz('default', 'p', {}), spec: JSON.parse('{"__proto__": {"rules": []}}') }, ['spec.__proto__: is not a field here (expected selector, action, rules)']],
];

describe('validatePolicyObject', () => {
  it('accepts every object of the bookinfo example', () => {
    for (const obj of exampleObjects()) assert.equal(validatePolicyObject(obj).ok, true);
  });

  it('accepts wildcards, a selector that matches nothing, no spec, and UNSET', () => {
    const ok = [
      src({ principals: ['*', 'cluster.local/ns/a/*', '*/sa/b'], namespaces: ['*', 'team-*', '*-prod'] }),
      op({ methods: ['*', 'GE*'], paths: ['*', '/api/*', '*.png', '/'], ports: ['1', '65535'] }),
      authz('default', 'p', { selector: { matchLabels: { app: 'no-such-app' } } }),
      { apiVersion: 'security.meshid.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'p', namespace: 'default' } },
      peer('default', 'p', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'UNSET' }, portLevelMtls: { 8080: { mode: 'UNSET' } } }),
    ];
    for (const obj of ok) assert.deepEqual(validatePolicyObject(obj), { ...validatePolicyObject(obj), ok: true }, JSON.stringify(obj));
  });

  it('returns typed objects; empty lists and selectors mean "not set"', () => {
    const r = validatePolicyObject(authz('default', 'p', { selector: { matchLabels: {} }, rules: [{ from: [{ source: { principals: ['*'], namespaces: [] } }] }] }));
    assert.deepEqual(r, { ok: true, where: 'AuthorizationPolicy default/p', policy: { kind: 'AuthorizationPolicy', object: { namespace: 'default', name: 'p', spec: { rules: [{ from: [{ source: { principals: ['*'] } }] }] } } } });
  });

  it('takes the default namespace only when asked to', () => {
    const obj = { apiVersion: 'security.meshid.io/v1', kind: 'PeerAuthentication', metadata: { name: 'p' }, spec: {} };
    assert.deepEqual(validatePolicyObject(obj), { ok: false, where: 'PeerAuthentication ?/p', errors: ['metadata.namespace: is required'] });
    assert.equal(validatePolicyObject(obj, { defaultNamespace: 'default' }).ok, true);
  });

  for (const [name, obj, want] of INVALID) {
    it(`refuses ${name}`, () => {
      const r = validatePolicyObject(obj);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.errors.length, want.length, r.errors.join('\n'));
      r.errors.forEach((e, i) => { const w: unknown = want[i]; if (w instanceof RegExp) assert.match(e, w); else assert.equal(e, w); });
    });
  }

  it('reports at most 20 problems, then counts the rest', () => {
    const r = validatePolicyObject(src({ principals: Array.from({ length: 1000 }, () => 'x y') }));
    assert.ok(!r.ok);
    assert.equal(r.errors.length, 21);
    assert.equal(r.errors[20], '... and 980 more problems');
  });

  it('refuses cyclic and very deep specs without throwing', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    let deep: unknown = {};
    for (let i = 0; i < 200_000; i++) deep = { rules: [deep] };
    for (const spec of [cyclic, deep]) assert.deepEqual(validatePolicyObject(authz('default', 'p', spec)), { ok: false, where: 'AuthorizationPolicy default/p', errors: ['spec: is not a JSON object (cyclic or nested too deeply)'] });
  });

  it('costs little for the largest object it accepts, and never throws on random input', () => {
    const big = authz('default', 'p', { rules: Array.from({ length: 1000 }, (_, i) => ({ to: [{ operation: { ports: [String(i + 1)] } }] })) });
    assert.ok(JSON.stringify((big as { spec: unknown }).spec).length < MAX_SPEC_BYTES);
    const start = process.hrtime.bigint();
    assert.equal(validatePolicyObject(big).ok, true);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    assert.ok(ms < 100, `validating 1,000 rules took ${ms.toFixed(1)} ms`);

    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const values = [null, 1, 'x', true, [], {}, ['*'], { mode: 'STRICT' }, [{}], [{ source: {} }], [{ operation: { ports: ['x'] } }], 'STRICT', 'ALLOW'];
    const keys = ['selector', 'action', 'rules', 'mtls', 'portLevelMtls', 'matchLabels', 'from', 'to', 'source', 'operation', 'principals', 'ports', 'paths'];
    const junk = (depth: number): unknown => {
      if (depth === 0 || rand() < 0.3) return values[Math.floor(rand() * values.length)];
      if (rand() < 0.3) return [junk(depth - 1), junk(depth - 1)];
      return Object.fromEntries(Array.from({ length: 3 }, () => [keys[Math.floor(rand() * keys.length)]!, junk(depth - 1)]));
    };
    for (let i = 0; i < 2000; i++) {
      for (const make of [authz, peer]) assert.doesNotThrow(() => validatePolicyObject(make('default', 'p', junk(5))));
    }
  });
});
