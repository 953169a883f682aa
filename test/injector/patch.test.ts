import assert from 'node:assert/strict';
import { test } from 'node:test';
import jsonpatch from 'fast-json-patch';
import { reviewJson, reviewOf, type AdmissionResponse } from '../../src/injector/admission.js';
import { rendered, toJson, withItem, withKey } from '../../src/injector/json.js';
import { diffPatch, patchJson } from '../../src/injector/patch.js';

/** A small deterministic generator, so a failure names a seed that reproduces it. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const STRINGS = ['', 'a', 'web', 'x"y', 'back\\slash', 'a/b~c', 'tab\there', 'ünï', '\u2028', 'emoji 🦀', '\ud800'];

function value(r: () => number, depth: number): unknown {
  const k = Math.floor(r() * (depth > 3 ? 4 : 7));
  if (k === 0) return STRINGS[Math.floor(r() * STRINGS.length)];
  if (k === 1) return Math.floor(r() * 1000) - 500;
  if (k === 2) return r() < 0.5;
  if (k === 3) return null;
  if (k === 4) return Array.from({ length: Math.floor(r() * 5) }, () => value(r, depth + 1));
  if (k === 5) return Array.from({ length: Math.floor(r() * 5) }, (_, i) => ({ name: `n${Math.floor(r() * 4)}`, v: value(r, depth + 1), i }));
  return Object.fromEntries(Array.from({ length: Math.floor(r() * 5) }, () => [STRINGS[Math.floor(r() * STRINGS.length)]!, value(r, depth + 1)]));
}

/** Like the injector: a changed copy that shares every untouched subtree with the original. */
function mutate(r: () => number, v: unknown, depth: number): unknown {
  if (r() < 0.4) return v;
  if (Array.isArray(v)) {
    const out = v.map((x) => mutate(r, x, depth + 1));
    const edits = Math.floor(r() * 3);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(r() * (out.length + 1));
      if (r() < 0.5 && out.length > 0) out.splice(Math.min(at, out.length - 1), 1);
      else out.splice(at, 0, r() < 0.5 ? value(r, depth + 1) : { name: `n${Math.floor(r() * 4)}`, added: true });
    }
    return out;
  }
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (r() > 0.15) out[k] = mutate(r, x, depth + 1);
    if (r() < 0.3) out[STRINGS[Math.floor(r() * STRINGS.length)]!] = value(r, depth + 1);
    return out;
  }
  return r() < 0.5 ? v : value(r, depth);
}

test('the diff turns any document into any shared-structure change of it, and its text is JSON.stringify', () => {
  for (let seed = 1; seed <= 3000; seed++) {
    const r = prng(seed);
    const a = { spec: value(r, 0), list: value(r, 0) };
    const b = mutate(r, a, 0) as object;
    const ops = diffPatch(a, b);
    const applied = jsonpatch.applyPatch(structuredClone(a), structuredClone(ops) as jsonpatch.Operation[], true, false).newDocument;
    assert.deepEqual(applied, JSON.parse(JSON.stringify(b)), `seed ${seed}`);
    assert.equal(patchJson(ops), JSON.stringify(ops), `seed ${seed}`);
  }
});

test('items inserted before or after kept ones are adds; kept items are never copied into the patch', () => {
  const big = { name: 'migrate', env: Array.from({ length: 1000 }, (_, i) => ({ name: `V${i}`, value: 'v' })) };
  const other = { name: 'seed', image: 's' };
  const init = { name: 'meshid-init' };
  const proxy = { name: 'meshid-proxy' };
  assert.deepEqual(diffPatch([big, other], [init, proxy, big, other]), [
    { op: 'add', path: '/0', value: init },
    { op: 'add', path: '/1', value: proxy },
  ]);
  // A named item changed in place (rewritten probes) behind an inserted one is patched field by field.
  const changed = { ...big, readinessProbe: { httpGet: { path: '/app-health/migrate/readyz' } } };
  assert.deepEqual(diffPatch([big], [proxy, changed]), [
    { op: 'add', path: '/0/readinessProbe', value: changed.readinessProbe },
    { op: 'add', path: '/0', value: proxy },
  ]);
});

test('rendered values and values built on them serialize exactly as JSON.stringify, and stay frozen', () => {
  const base = rendered({ name: 'p', env: [{ name: 'A', value: 'x"y' }], ports: [1, 2], none: undefined, last: { ok: true } });
  assert.ok(Object.isFrozen(base) && Object.isFrozen(base.env) && Object.isFrozen(base.env[0]));
  assert.throws(() => { (base.env as unknown[]).push(1); }, TypeError);
  const env = withItem(base.env, { name: 'PROBES', value: JSON.stringify({ '/a': { port: 1 } }) });
  const extended = withKey(base, 'env', env);
  assert.equal(toJson(extended), JSON.stringify(extended));
  assert.equal(toJson(withKey(base, 'last', { ok: false })), JSON.stringify({ ...base, last: { ok: false } }));
  assert.equal(toJson(withItem(rendered([] as unknown[]), 'x')), '["x"]');
  assert.equal(toJson([extended, { own: [undefined, () => 1, 'ü'] }, undefined]), JSON.stringify([extended, { own: [undefined, () => 1, 'ü'] }, undefined]));
  assert.ok(Object.isFrozen(extended) && extended.env.length === 2 && base.env.length === 1);
  assert.throws(() => withKey(base as Record<string, unknown>, 'none', 1), /must be present/);
  assert.throws(() => withItem([1], 2), /only a rendered value/);
});

test('the review is written exactly as JSON.stringify would write it', () => {
  const responses: AdmissionResponse[] = [
    { uid: 'u-1', allowed: true },
    { uid: 'ü"\\\u0001', allowed: true, patchType: 'JSONPatch', patch: Buffer.from('[{"op":"add"}]').toString('base64') },
    { uid: 'u-3', allowed: false, status: { code: 400, message: 'meshid injection: "bad" \u2028 annotation' } },
  ];
  for (const r of responses) assert.equal(reviewJson(r), JSON.stringify(reviewOf(r)));
});
