import type { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import type { Logger } from '../common/log.js';
import { ensureWebhookCaBundle } from '../kube/webhook-cabundle.js';

export interface WebhookUpkeepOptions {
  admission: AdmissionregistrationV1Api;
  /** The PEM roots that verify the webhook's serving certificate now. */
  bundle: () => string;
  retryMs: number;
  resyncMs: number;
  log: Logger;
}

export interface WebhookUpkeep {
  /** The CA changed: update the caBundle now. */
  changed(): void;
  stop(): void;
}

/**
 * Keeps the MutatingWebhookConfiguration's caBundle equal to the trust bundle, on every replica: at
 * start, after each CA change, and periodically (a re-applied configuration loses it). A missing
 * configuration is normal while an install is applied, so it is retried, never fatal.
 */
export function startWebhookUpkeep(o: WebhookUpkeepOptions): WebhookUpkeep {
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let again = false;
  let stopped = false;
  let problem = '';

  const run = async (): Promise<void> => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    clearTimeout(timer);
    let delay = o.resyncMs;
    try {
      if (await ensureWebhookCaBundle(o.admission, o.bundle())) o.log.info('webhook configuration caBundle updated to the current trust bundle');
      else if (problem) o.log.info('webhook configuration caBundle is current');
      problem = '';
    } catch (err) {
      delay = o.retryMs;
      const message = (err as Error).message;
      // Once per distinct problem: a retry every few seconds would otherwise flood the log.
      if (message !== problem) o.log.warn({ err: message, retryMs: o.retryMs }, 'cannot update the webhook caBundle; retrying');
      problem = message;
    } finally {
      running = false;
      if (again) {
        again = false;
        delay = 0;
      }
      if (!stopped) {
        timer = setTimeout(() => void run(), delay);
        timer.unref();
      }
    }
  };

  void run();
  return {
    changed: () => void run(),
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
