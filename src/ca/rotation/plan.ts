import { X509Certificate } from 'node:crypto';
import { MeshidError } from '../../common/errors.js';
import type { KeyAlgorithm } from '../../pki/keys.js';
import { fingerprintOf, leavesExpireBy, otherLeavesExpireBy, withFreshCa } from '../leaf-horizon.js';
import { createCaFiles, loadCaMaterial } from '../material.js';
import { activateJwtKey, retireJwtKey, stageJwtKey } from '../jwt/rotation.js';
import { JWT_FILES, PLUGIN_FILES, type CaFiles } from '../store.js';
import { rootLifetimeMs, scheduledRotationAt } from './schedule.js';
import { bundleCerts, NEXT_FILES, parseRotationState, ROTATION_FILE, RotationStateError, serializeRotationState, type Phase, type RotationState } from './state.js';

export interface RotationConfig {
  trustDomain: string;
  random: (n: number) => Buffer;
  /** The longest leaf the CA issues: how long an old-CA leaf can outlive activation. */
  maxWorkloadTtlMs: number;
  /** How long the new root sits in a fully published bundle before it may sign (agents' bundle sync). */
  bundlePropagationDelayMs: number;
  /** Added to retireAt: other replicas reload the new CA a little after activation, and clocks differ. */
  retireMarginMs: number;
  /** Start a rotation by itself once the active root has lived this fraction of its life; null: never. */
  rotateAtFraction: number | null;
  keyAlgorithm?: KeyAlgorithm;
  /** Lifetime of the new root; by default the same as the root it replaces. */
  rootTtlMs?: number;
}

/** What the driver observed outside the store: whether the stored root-cert.pem is published everywhere. */
export interface RotationFacts {
  published: boolean;
}

/** Each names the phase it enters, or what it records ("published"); it is the metric label. */
export type Step = 'prepare' | 'published' | 'activate' | 'retire' | 'idle';

export type Decision =
  | { kind: 'write'; step: Step; files: Record<string, string>; state: RotationState; log: string }
  | { kind: 'wait'; phase: Phase; until: number | null; waitingFor: string }
  | { kind: 'idle'; until: number | null };

/** The whole rotation as a function of what is stored and the time: no I/O, so a restart decides the same. */
export function nextStep(state: RotationState, files: CaFiles, now: number, config: RotationConfig, facts: RotationFacts): Decision {
  switch (state.phase) {
    case 'idle': {
      const due = scheduledRotationAt(files, config.rotateAtFraction);
      if (due === null || now < due) return { kind: 'idle', until: due };
      return prepare({ phase: 'requested', id: rotationId(now, config.random), reason: 'scheduled', requestedAt: now }, files, now, config);
    }
    case 'requested':
      return prepare(state, files, now, config);
    case 'prepare': {
      if (state.publishedAt === undefined) {
        if (!facts.published) return { kind: 'wait', phase: 'prepare', until: null, waitingFor: 'the trust bundle with the new root to be published everywhere' };
        const next = { ...state, publishedAt: now, activateAt: now + config.bundlePropagationDelayMs };
        return write('published', files, next, `trust bundle with the new root is published everywhere; the new CA signs after ${new Date(next.activateAt).toISOString()}`);
      }
      const activateAt = state.activateAt ?? state.publishedAt + config.bundlePropagationDelayMs;
      if (now < activateAt) return { kind: 'wait', phase: 'prepare', until: activateAt, waitingFor: 'the bundle propagation delay' };
      return activate(state, files, now, config);
    }
    case 'activate': {
      const retireAt = retireDue(state, files, config);
      if (now < retireAt) return { kind: 'wait', phase: 'activate', until: retireAt, waitingFor: 'leaves signed by the old CA to expire' };
      const kept = bundleCerts(files[PLUGIN_FILES.roots]).filter((r) => !state.oldRoots!.includes(r.fingerprint256));
      if (!kept.some((r) => r.fingerprint256 === state.newRoot)) throw new RotationStateError(`${PLUGIN_FILES.roots} no longer holds the new root ${state.newRoot!.slice(0, 23)}; not retiring the old one`);
      const bundle = kept.map((r) => r.toString()).join('');
      return write('retire', retireJwtKey({ ...files, [PLUGIN_FILES.roots]: bundle }), { ...state, phase: 'retire', retiredAt: now },
        `old root removed from the trust bundle (${state.oldRoots!.length} root(s)) and the old JWT key from the JWKS`);
    }
    case 'retire':
      if (!facts.published) return { kind: 'wait', phase: 'retire', until: null, waitingFor: 'the trust bundle without the old root to be published everywhere' };
      return write('idle', files, { ...state, phase: 'idle', completedAt: now }, 'root rotation complete');
  }
}

/** What `meshid ca rotate-root` writes: a request the leader picks up. Refused while one is under way. */
export function requestRotation(files: CaFiles, now: number, random: (n: number) => Buffer): { files: Record<string, string>; state: RotationState } {
  const current = parseRotationState(files);
  if (current.phase !== 'idle') throw new MeshidError('rotation_in_progress', `root rotation ${current.id} is already in phase ${current.phase}`, 409);
  const state: RotationState = { phase: 'requested', id: rotationId(now, random), reason: 'operator', requestedAt: now };
  return { files: { ...files, [ROTATION_FILE]: serializeRotationState(state) }, state };
}

function prepare(state: RotationState, files: CaFiles, now: number, config: RotationConfig): Decision {
  const oldRoots = bundleCerts(files[PLUGIN_FILES.roots]);
  const ca = createCaFiles({
    trustDomain: config.trustDomain, now, random: config.random, keyAlgorithm: config.keyAlgorithm,
    rootTtlMs: config.rootTtlMs ?? rootLifetimeMs(files),
  });
  const newRoot = new X509Certificate(ca[PLUGIN_FILES.roots]!);
  const next = {
    ...stageJwtKey(files, ca[JWT_FILES.signingKey]!),
    [PLUGIN_FILES.roots]: oldRoots.map((r) => r.toString()).join('') + ca[PLUGIN_FILES.roots],
    [NEXT_FILES.signingCert]: ca[PLUGIN_FILES.signingCert]!,
    [NEXT_FILES.signingKey]: ca[PLUGIN_FILES.signingKey]!,
    [NEXT_FILES.chain]: ca[PLUGIN_FILES.chain]!,
    [NEXT_FILES.root]: ca[PLUGIN_FILES.roots]!,
  };
  const s: RotationState = { ...state, phase: 'prepare', preparedAt: now, oldRoots: oldRoots.map((r) => r.fingerprint256), newRoot: newRoot.fingerprint256 };
  return write('prepare', withFreshCa(next, fingerprintOf(ca[PLUGIN_FILES.signingCert]!), now), s, `new root ${newRoot.fingerprint256.slice(0, 23)} added to the trust bundle and a new JWT key to the JWKS; the old CA still signs (${state.reason})`);
}

/** The staged CA becomes the plug-in files (and the staged JWT key the signing one), so issuing code needs no knowledge of rotation. */
function activate(state: RotationState, files: CaFiles, now: number, config: RotationConfig): Decision {
  let next: Record<string, string>;
  try {
    next = activateJwtKey(files);
    for (const name of Object.values(NEXT_FILES)) delete next[name];
    next[PLUGIN_FILES.signingCert] = files[NEXT_FILES.signingCert]!;
    next[PLUGIN_FILES.signingKey] = files[NEXT_FILES.signingKey]!;
    next[PLUGIN_FILES.chain] = files[NEXT_FILES.chain]!;
    loadCaMaterial(next, now);
  } catch (err) {
    throw new RotationStateError(`the staged CA (${NEXT_FILES.signingCert}) cannot become active: ${(err as Error).message}`);
  }
  // The old CA's last leaf, as recorded before it was handed out; without a record, the longest TTL it may have given.
  const oldLeaves = leavesExpireBy(files, fingerprintOf(files[PLUGIN_FILES.signingCert]!), config.maxWorkloadTtlMs) ?? now + config.maxWorkloadTtlMs;
  const retireAt = Math.max(now, oldLeaves) + config.retireMarginMs;
  const s: RotationState = { ...state, phase: 'activate', activatedAt: now, retireAt };
  return write('activate', next, s, `the new CA signs; both roots stay trusted until ${new Date(retireAt).toISOString()}`);
}

/** The recorded retire time, later if a replica slow to reload the new CA signed with the old one after activation. */
export function retireDue(state: RotationState, files: CaFiles, config: Pick<RotationConfig, 'maxWorkloadTtlMs' | 'retireMarginMs'>): number {
  const active = files[PLUGIN_FILES.signingCert];
  const late = active ? otherLeavesExpireBy(files, fingerprintOf(active), config.maxWorkloadTtlMs) : null;
  return Math.max(state.retireAt!, late === null ? -Infinity : late + config.retireMarginMs);
}

function write(step: Step, files: CaFiles, state: RotationState, log: string): Decision {
  return { kind: 'write', step, files: { ...files, [ROTATION_FILE]: serializeRotationState(state) }, state, log };
}

function rotationId(now: number, random: (n: number) => Buffer): string {
  return `${new Date(now).toISOString().slice(0, 19).replace(/[-:]/g, '')}Z-${random(3).toString('hex')}`;
}
