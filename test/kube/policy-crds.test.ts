import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { POLICY_GROUP, POLICY_KINDS, POLICY_VERSION } from '../../src/policy/api.js';
import { MAX_LIST } from '../../src/policy/shape.js';
import { ACTIONS, AUTHORIZATION_POLICY_FIELDS, MAX_RULES, OPERATION_CHECKS, RULE_FIELDS, SOURCE_CHECKS } from '../../src/policy/validate-authz.js';
import { MTLS_FIELDS, MTLS_MODES, PEER_AUTHENTICATION_FIELDS } from '../../src/policy/validate-peer.js';
import { SELECTOR_FIELDS } from '../../src/policy/validate-selector.js';
import { MAX_VALUE_LENGTH } from '../../src/policy/values.js';
import { type Schema, schemaProblems } from '../helpers/crd-schema.js';
import { authz, exampleObjects } from '../policy/support.js';
import { renderKustomization } from './render-manifests.js';

const rendered = renderKustomization(join(process.cwd(), 'manifests'));
const crd = (kind: keyof typeof POLICY_KINDS): any => {
  const found = rendered.find((o) => o.kind === 'CustomResourceDefinition' && o.metadata.name === `${POLICY_KINDS[kind].plural}.${POLICY_GROUP}`);
  assert.ok(found, `the install has the ${kind} CRD`);
  return found;
};
const specSchema = (kind: keyof typeof POLICY_KINDS): Schema => crd(kind).spec.versions[0].schema.openAPIV3Schema.properties.spec;
/** kustomize sorts keys when it renders, so names are compared as sets. */
const keys = (s: Schema | undefined) => Object.keys(s?.properties ?? {}).sort();
const sorted = (xs: readonly string[]) => [...xs].sort();

describe('policy CRDs in manifests/', () => {
  it('security.meshid.io/v1, served and stored, Namespaced, named as src/policy/api.ts names them', () => {
    for (const kind of Object.keys(POLICY_KINDS) as Array<keyof typeof POLICY_KINDS>) {
      const { spec } = crd(kind);
      assert.equal(spec.group, POLICY_GROUP);
      assert.equal(spec.scope, 'Namespaced');
      assert.deepEqual(spec.names, { kind, listKind: `${kind}List`, plural: POLICY_KINDS[kind].plural, singular: POLICY_KINDS[kind].singular, categories: ['meshid'] });
      assert.deepEqual(spec.versions.map((v: any) => [v.name, v.served, v.storage]), [[POLICY_VERSION, true, true]]);
    }
  });

  it('PeerAuthentication: the schema has the validator fields, modes and limits', () => {
    const s = specSchema('PeerAuthentication');
    assert.deepEqual(keys(s), sorted(PEER_AUTHENTICATION_FIELDS));
    assert.deepEqual(keys(s.properties!.selector), sorted(SELECTOR_FIELDS));
    assert.deepEqual(keys(s.properties!.mtls), sorted(MTLS_FIELDS));
    assert.deepEqual(s.properties!.mtls!.properties!.mode!.enum, [...MTLS_MODES]);
    assert.deepEqual(s.properties!.portLevelMtls!.additionalProperties!.properties!.mode!.enum, [...MTLS_MODES]);
  });

  it('AuthorizationPolicy: the schema has the validator fields, actions and limits', () => {
    const s = specSchema('AuthorizationPolicy');
    assert.deepEqual(keys(s), sorted(AUTHORIZATION_POLICY_FIELDS));
    assert.deepEqual(s.properties!.action!.enum, [...ACTIONS]);
    const rules = s.properties!.rules!;
    assert.equal(rules.maxItems, MAX_RULES);
    assert.deepEqual(keys(rules.items), sorted(RULE_FIELDS));
    const source = rules.items!.properties!.from!.items!.properties!.source!;
    const operation = rules.items!.properties!.to!.items!.properties!.operation!;
    assert.deepEqual(keys(source), sorted(Object.keys(SOURCE_CHECKS)));
    assert.deepEqual(keys(operation), sorted(Object.keys(OPERATION_CHECKS)));
    for (const list of [rules.items!.properties!.from!, rules.items!.properties!.to!, ...Object.values(source.properties!), ...Object.values(operation.properties!)]) assert.equal(list.maxItems, MAX_LIST);
    for (const list of [...Object.values(source.properties!), ...Object.values(operation.properties!)]) assert.equal(list.items!.maxLength, MAX_VALUE_LENGTH);
  });

  it('the API server would store the bookinfo example as written (nothing refused, nothing pruned)', () => {
    for (const obj of exampleObjects() as Array<{ kind: keyof typeof POLICY_KINDS; spec: unknown }>) {
      assert.deepEqual(schemaProblems(specSchema(obj.kind), obj.spec, 'spec'), { refused: [], pruned: [] });
    }
  });

  it('and would refuse an unknown mode, wrong types and 10,000 rules before the control plane sees them', () => {
    const pa = specSchema('PeerAuthentication');
    assert.deepEqual(schemaProblems(pa, { mtls: { mode: 'STRICTER' } }, 'spec').refused, ['spec.mtls.mode: not one of UNSET, DISABLE, PERMISSIVE, STRICT']);
    const ap = specSchema('AuthorizationPolicy');
    assert.deepEqual(schemaProblems(ap, { rules: Array.from({ length: 10_000 }, () => ({})) }, 'spec').refused, ['spec.rules: more than 1000 items']);
    assert.deepEqual(schemaProblems(ap, (authz('d', 'p', { rules: [{ to: [{ operation: { ports: [80] } }] }] }) as { spec: unknown }).spec, 'spec').refused, ['spec.rules[0].to[0].operation.ports[0]: must be a string']);
  });

  it('the control plane may get, list and watch both, in every namespace', () => {
    const role = rendered.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'meshid') as any;
    const rule = role.rules.find((r: any) => r.apiGroups?.includes(POLICY_GROUP));
    assert.deepEqual(rule, { apiGroups: [POLICY_GROUP], resources: Object.values(POLICY_KINDS).map((k) => k.plural), verbs: ['get', 'list', 'watch'] });
  });
});
