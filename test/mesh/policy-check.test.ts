import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_RULES, validPolicy } from '../../src/mesh/policy-check.js';
import { policyObject } from '../helpers/mesh-objects.js';

describe('validPolicy: the fields the view passes on, until branch policy\'s validator', () => {
  const rule = { from: [{ source: { principals: ['cluster.local/ns/default/sa/a'] } }], to: [{ operation: { methods: ['GET'], paths: ['/x'] } }] };
  const cases: Array<{ name: string; obj: unknown; problem?: RegExp }> = [
    { name: 'STRICT mesh-wide', obj: policyObject('PeerAuthentication', 'meshid-system', 'a', { mtls: { mode: 'STRICT' } }) },
    { name: 'port level', obj: policyObject('PeerAuthentication', 'shop', 'a', { selector: { matchLabels: { app: 'x' } }, portLevelMtls: { 8080: { mode: 'DISABLE' } } }) },
    { name: 'empty AuthorizationPolicy (deny all)', obj: policyObject('AuthorizationPolicy', 'shop', 'a', {}) },
    { name: 'ALLOW with rules', obj: policyObject('AuthorizationPolicy', 'shop', 'a', { action: 'ALLOW', rules: [rule] }) },
    { name: 'an unknown mode', obj: policyObject('PeerAuthentication', 'shop', 'a', { mtls: { mode: 'STRICTEST' } }), problem: /spec\.mtls\.mode "STRICTEST" is not one of/ },
    { name: 'a port that is not one', obj: policyObject('PeerAuthentication', 'shop', 'a', { portLevelMtls: { http: { mode: 'STRICT' } } }), problem: /portLevelMtls key "http"/ },
    { name: 'an unknown action', obj: policyObject('AuthorizationPolicy', 'shop', 'a', { action: 'AUDIT' }), problem: /spec\.action "AUDIT"/ },
    { name: '10,000 rules', obj: policyObject('AuthorizationPolicy', 'shop', 'a', { rules: Array.from({ length: 10_000 }, () => rule) }), problem: new RegExp(`10000 rules; at most ${MAX_RULES}`) },
    { name: 'rules not a list (not valid for the schema)', obj: policyObject('AuthorizationPolicy', 'shop', 'a', { rules: 'all' }), problem: /spec\.rules must be a list/ },
    { name: 'principals not strings', obj: policyObject('AuthorizationPolicy', 'shop', 'a', { rules: [{ from: [{ source: { principals: [1] } }] }] }), problem: /from\[0\]\.source\.principals must be a list of strings/ },
    { name: 'matchLabels not strings', obj: policyObject('AuthorizationPolicy', 'shop', 'a', { selector: { matchLabels: { app: 1 } } }), problem: /matchLabels/ },
    { name: 'spec not an object', obj: { ...policyObject('AuthorizationPolicy', 'shop', 'a', {}), spec: [] }, problem: /spec must be an object/ },
    { name: 'no metadata', obj: { kind: 'AuthorizationPolicy' }, problem: /metadata\.name/ },
    { name: 'not JSON-shaped at all', obj: 'x', problem: /metadata/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = validPolicy(c.obj);
      if (!c.problem) return assert.ok(r.ok, r.ok ? '' : r.problem);
      assert.ok(!r.ok, 'refused');
      assert.match(r.problem, c.problem);
      assert.ok(!r.problem.includes('\n') && r.problem.length < 200, 'one short line');
    });
  }
});
