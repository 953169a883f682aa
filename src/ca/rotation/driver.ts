import { Counter, Gauge, type Registry } from 'prom-client';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import type { KeyAlgorithm } from '../../pki/keys.js';
import type { CertificateAuthority } from '../authority.js';
import { PLUGIN_FILES, StoreConflictError, type CaStore } from '../store.js';
import { nextStep, type RotationConfig } from './plan.js';
import { parseRotationState, PHASES, RotationStateError } from './state.js';

export interface RotationDriverOptions {
  store: CaStore;
  /** This replica's CA: told about each write at once instead of waiting for the store watch. */
  authority?: CertificateAuthority;
  clock: Clock;
  random: (n: number) => Buffer;
  trustDomain: string;
  maxWorkloadTtlMs: number;
  bundlePropagationDelayMs: number;
  /** Default 5m: covers other replicas' reload lag and clock skew after activation. */
  retireMarginMs?: number;
  /** Default 0.8; null turns scheduled rotation off (e.g. for an operator-managed plug-in CA). */
  rotateAtFraction?: number | null;
  keyAlgorithm?: KeyAlgorithm;
  rootTtlMs?: number;
  /** Cluster mode: true once `bundle` is in every namespace's ConfigMap. Local mode: omit (writing root-cert.pem publishes it). */
  publishedEverywhere?: (bundle: string) => Promise<boolean>;
  /** Only the leader drives; other replicas only sign. Default: always. */
  isLeader?: () => boolean;
  logger: Logger;
  registry: Registry;
  tickMs: number;
}

export interface RotationDriver {
  stop(): void;
  /** Drives the rotation as far as it can go now. Rejects on a store or state error (the timer logs them instead). */
  tick(): Promise<void>;
}

/** Steps in one tick before yielding; a rotation has five, conflicts may add a few. */
const MAX_STEPS = 16;

/** Reads the store, decides with the pure plan, writes with the version read; on a conflict, reads again. */
export function startRotationDriver(o: RotationDriverOptions): RotationDriver {
  const config: RotationConfig = {
    trustDomain: o.trustDomain, random: o.random, maxWorkloadTtlMs: o.maxWorkloadTtlMs,
    bundlePropagationDelayMs: o.bundlePropagationDelayMs, retireMarginMs: o.retireMarginMs ?? 300_000,
    rotateAtFraction: o.rotateAtFraction === undefined ? 0.8 : o.rotateAtFraction, keyAlgorithm: o.keyAlgorithm, rootTtlMs: o.rootTtlMs,
  };
  const metrics = rotationMetrics(o.registry);
  const log = o.logger.child({ component: 'ca-rotation', store: o.store.describe() });
  let lastError = '';
  let running: Promise<void> | null = null;

  const step = async (): Promise<void> => {
    if (o.isLeader && !o.isLeader()) return;
    for (let i = 0; i < MAX_STEPS; i++) {
      const stored = await o.store.read();
      if (!stored) return; // no CA yet: the authority creates it
      let decision;
      try {
        const state = parseRotationState(stored.files);
        const watching = state.phase === 'prepare' || state.phase === 'retire';
        const published = !watching || !o.publishedEverywhere || (await o.publishedEverywhere(stored.files[PLUGIN_FILES.roots] ?? ''));
        decision = nextStep(state, stored.files, o.clock.now(), config, { published });
        metrics.setPhase(state.phase);
        lastError = '';
      } catch (err) {
        if (!(err instanceof RotationStateError)) throw err;
        // Said once per distinct problem, not every tick; nothing is written until an operator fixes it.
        if (err.message !== lastError) log.error({ reason: err.message }, 'root rotation halted');
        lastError = err.message;
        metrics.setPhase('error');
        throw err;
      }
      if (decision.kind !== 'write') return;
      try {
        const written = await o.store.write(decision.files, stored.version);
        metrics.transitions.inc({ phase: decision.step });
        metrics.setPhase(decision.state.phase);
        log.info({ rotation: decision.state.id, step: decision.step, phase: decision.state.phase }, decision.log);
        o.authority?.reload(written);
      } catch (err) {
        if (!(err instanceof StoreConflictError)) throw err;
        log.debug('CA material changed while deciding; deciding again');
      }
    }
  };

  const tick = (): Promise<void> => {
    running ??= step().finally(() => { running = null; });
    return running;
  };
  const background = (): void => {
    tick().catch((err) => {
      if (!(err instanceof RotationStateError)) log.warn({ err: (err as Error).message }, 'root rotation step failed; will retry');
    });
  };
  const timer = setInterval(background, o.tickMs);
  timer.unref();
  // A request written by `meshid ca rotate-root` (or another replica) is picked up now, not at the next tick.
  const stopWatch = o.store.watch(background);
  return {
    stop() {
      clearInterval(timer);
      stopWatch();
    },
    tick,
  };
}

function rotationMetrics(registry: Registry) {
  const transitions = (registry.getSingleMetric('meshid_ca_rotation_transitions_total') as Counter<'phase'> | undefined)
    ?? new Counter({ name: 'meshid_ca_rotation_transitions_total', help: 'Root rotation steps taken, by the phase entered (or "published")', labelNames: ['phase'], registers: [registry] });
  const phase = (registry.getSingleMetric('meshid_ca_rotation_phase') as Gauge<'phase'> | undefined)
    ?? new Gauge({ name: 'meshid_ca_rotation_phase', help: 'Current root rotation phase (1 for the current one)', labelNames: ['phase'], registers: [registry] });
  return {
    transitions,
    setPhase(current: string) {
      for (const p of [...PHASES, 'error']) phase.set({ phase: p }, p === current ? 1 : 0);
    },
  };
}
