import { X509Certificate } from 'node:crypto';
import { MeshidError } from '../../common/errors.js';
import { decodeCertificates } from '../../pki/pem.js';
import { PLUGIN_FILES, type CaFiles } from '../store.js';

/** Rotation state lives next to the CA material, so one atomic write moves both together. */
export const ROTATION_FILE = 'rotation.json';

/** The CA that will sign after activation, staged in the same set as the active one (valid Secret keys). */
export const NEXT_FILES = {
  signingCert: 'next-ca-cert.pem',
  signingKey: 'next-ca-key.pem',
  chain: 'next-cert-chain.pem',
  root: 'next-root-cert.pem',
} as const;

export const PHASES = ['idle', 'requested', 'prepare', 'activate', 'retire'] as const;
export type Phase = (typeof PHASES)[number];

/**
 * One flat record; which fields must be present depends on the phase (checked by parseRotationState).
 * Deadlines are stored, not recomputed, so a restart with different flags cannot move them and
 * `meshid ca status` can show time left without knowing the control plane's configuration.
 */
export interface RotationState {
  phase: Phase;
  id?: string;
  reason?: 'operator' | 'scheduled';
  requestedAt?: number;
  preparedAt?: number;
  /** SHA-256 fingerprints of the roots trusted before the rotation: they leave the bundle at retire. */
  oldRoots?: string[];
  newRoot?: string;
  /** When the bundle holding the new root was first seen published everywhere. */
  publishedAt?: number;
  activateAt?: number;
  activatedAt?: number;
  /** activatedAt + max workload TTL + margin: no leaf of the old signing CA can be valid after it. */
  retireAt?: number;
  retiredAt?: number;
  completedAt?: number;
}

export class RotationStateError extends MeshidError {
  constructor(message: string) {
    super('rotation_state_invalid', `${message}; the active CA is unaffected and keeps signing. Fix or remove ${ROTATION_FILE} to continue`, 409);
  }
}

const TIMES = ['requestedAt', 'preparedAt', 'publishedAt', 'activateAt', 'activatedAt', 'retireAt', 'retiredAt', 'completedAt'] as const;
const REQUIRED: Record<Phase, ReadonlyArray<keyof RotationState>> = {
  idle: [],
  requested: ['id', 'reason', 'requestedAt'],
  prepare: ['id', 'reason', 'requestedAt', 'preparedAt', 'oldRoots', 'newRoot'],
  activate: ['id', 'reason', 'requestedAt', 'preparedAt', 'oldRoots', 'newRoot', 'publishedAt', 'activatedAt', 'retireAt'],
  retire: ['id', 'reason', 'requestedAt', 'preparedAt', 'oldRoots', 'newRoot', 'publishedAt', 'activatedAt', 'retireAt', 'retiredAt'],
};

/** No rotation.json means idle. Anything else is checked strictly: a hand edit must not half-work. */
export function parseRotationState(files: CaFiles): RotationState {
  const text = files[ROTATION_FILE];
  if (text === undefined) return { phase: 'idle' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new RotationStateError(`${ROTATION_FILE} is not valid JSON`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new RotationStateError(`${ROTATION_FILE} must hold a JSON object`);
  const o = raw as Record<string, unknown>;
  if (!PHASES.includes(o.phase as Phase)) {
    throw new RotationStateError(`${ROTATION_FILE} has unknown phase ${JSON.stringify(o.phase)?.slice(0, 40)} (expected one of ${PHASES.join(', ')})`);
  }
  const state: RotationState = { phase: o.phase as Phase };
  if (o.id !== undefined) state.id = str(o.id, 'id');
  if (o.reason !== undefined) {
    if (o.reason !== 'operator' && o.reason !== 'scheduled') throw new RotationStateError(`${ROTATION_FILE}: reason must be "operator" or "scheduled"`);
    state.reason = o.reason;
  }
  if (o.newRoot !== undefined) state.newRoot = str(o.newRoot, 'newRoot');
  if (o.oldRoots !== undefined) {
    if (!Array.isArray(o.oldRoots) || o.oldRoots.length === 0) throw new RotationStateError(`${ROTATION_FILE}: oldRoots must be a non-empty list of fingerprints`);
    state.oldRoots = o.oldRoots.map((f) => str(f, 'oldRoots[]'));
  }
  for (const k of TIMES) if (o[k] !== undefined) state[k] = time(o[k], k);
  const missing = REQUIRED[state.phase].filter((k) => state[k] === undefined);
  if (missing.length) throw new RotationStateError(`${ROTATION_FILE} in phase ${state.phase} lacks ${missing.join(', ')}`);
  if (state.phase === 'prepare') {
    const absent = Object.values(NEXT_FILES).filter((n) => !files[n]);
    if (absent.length) throw new RotationStateError(`${ROTATION_FILE} is in phase prepare but ${absent.join(', ')} ${absent.length > 1 ? 'are' : 'is'} missing`);
  }
  return state;
}

export function serializeRotationState(s: RotationState): string {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (v !== undefined) out[k] = (TIMES as readonly string[]).includes(k) ? new Date(v as number).toISOString() : v;
  }
  return JSON.stringify(out, null, 2) + '\n';
}

/** The certificates of a PEM bundle; a broken bundle is a state error rather than a crash of the driver. */
export function bundleCerts(pem: string | undefined, file = PLUGIN_FILES.roots): X509Certificate[] {
  if (!pem) throw new RotationStateError(`${file} is missing`);
  try {
    return decodeCertificates(pem, file).map((der) => new X509Certificate(der));
  } catch (err) {
    throw new RotationStateError(`${file} cannot be read: ${(err as Error).message}`);
  }
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 200) throw new RotationStateError(`${ROTATION_FILE}: ${what} must be a non-empty string`);
  return v;
}

function time(v: unknown, what: string): number {
  const ms = typeof v === 'string' ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) throw new RotationStateError(`${ROTATION_FILE}: ${what} must be an RFC 3339 time`);
  return ms;
}
