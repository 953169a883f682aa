import { writeFileAtomic } from '../../../../src/common/atomic-write.js';
import type { BoundListener } from './listeners.js';
import type { SecretView } from './secret-check.js';

/** `envoy-standin.json`, beside the bootstrap: what the harness reads back from the pod's volume. */
export const STATE_FILE = 'envoy-standin.json';

export interface StandinState {
  pid: number;
  ready: boolean;
  listeners: BoundListener[];
  secrets: Record<string, SecretView>;
  /** SDS streams: their ACKs, NACKs and how many were opened. */
  acks: number;
  nacks: number;
  streams: number;
  /** LDS and CDS: the version in force (the last accepted), ACKs, NACKs, streams opened. */
  xds: Record<string, { version: string; acks: number; nacks: number; streams: number }>;
  /** Connections to LDS listeners, by `<listener>/<filter chain>` (and what became of refused ones). */
  connections: Record<string, number>;
}

/**
 * Writes the state after every change, one write at a time: a change during a write is written right
 * after it, so the file always ends at the latest state and readers never see a half-written one.
 */
export class StateWriter {
  private writing: Promise<void> | null = null;
  private dirty = false;

  constructor(private readonly path: string, private readonly snapshot: () => StandinState, private readonly onError: (msg: string) => void) {}

  changed(): void {
    this.dirty = true;
    if (!this.writing) this.writing = this.drain();
  }

  /** Resolves once the latest state is on disk. */
  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async drain(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      try {
        await writeFileAtomic(this.path, `${JSON.stringify(this.snapshot(), null, 2)}\n`);
      } catch (err) {
        this.onError(`cannot write ${this.path}: ${(err as Error).message}`);
      }
    }
    this.writing = null;
  }
}
