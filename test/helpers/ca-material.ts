import { randomBytes } from 'node:crypto';
import { createCaFiles, loadCaMaterial, type CaMaterial } from '../../src/ca/material.js';
import type { KeyAlgorithm } from '../../src/pki/keys.js';

/** An in-memory CA (root + signing CA) of the project's own making. */
export function makeCa(o: { now?: number; keyAlgorithm?: KeyAlgorithm; trustDomain?: string; rootTtlMs?: number } = {}): { files: Record<string, string>; material: CaMaterial } {
  const now = o.now ?? Date.now();
  const files = createCaFiles({ trustDomain: o.trustDomain ?? 'cluster.local', now, random: randomBytes, keyAlgorithm: o.keyAlgorithm, rootTtlMs: o.rootTtlMs });
  return { files, material: loadCaMaterial(files, now) };
}
