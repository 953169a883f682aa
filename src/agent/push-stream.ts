import type * as grpc from '@grpc/grpc-js';
import type { Versioned } from './workload-x509.js';

/**
 * One server stream of the Workload API: every message carries the full current state (the standard's
 * "Stream Responses"), so only the latest matters. A client that does not read makes grpc-js buffer;
 * once its buffer is full, the stream waits for 'drain' and then sends whatever is current then,
 * instead of queueing every version in between: a stalled client costs at most one buffer.
 */
export class PushStream<T> {
  private sentVersion: string | null = null;
  private waitingForDrain = false;
  private closed = false;
  private readonly closeListeners: Array<() => void> = [];

  constructor(
    private readonly call: grpc.ServerWritableStream<unknown, T>,
    private readonly current: () => Versioned<T> | null,
  ) {
    const close = () => this.close();
    call.on('cancelled', close);
    call.on('close', close);
    call.on('error', close);
    call.on('finish', close);
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  /** Sends the current state if it differs from what this stream last got. */
  push(): void {
    if (this.closed || this.waitingForDrain) return;
    const now = this.current();
    if (!now || now.version === this.sentVersion) return;
    this.sentVersion = now.version;
    if (!this.call.write(now.message)) {
      this.waitingForDrain = true;
      this.call.once('drain', () => {
        this.waitingForDrain = false;
        this.push();
      });
    }
  }

  /** Ends the stream with a status, as grpc-js does for an emitted error. */
  fail(code: grpc.status, details: string): void {
    if (this.closed) return;
    this.call.emit('error', { code, details });
    this.close();
  }

  end(): void {
    if (this.closed) return;
    this.call.end();
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.closeListeners.splice(0)) l();
  }
}
