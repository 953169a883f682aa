import { answeredAs, CONDITION, type PodCertificateRequest } from './request.js';

/** How a signer's PodCertificateRequests stand, for `meshid ca status`: counted from the API, so any replica's answers show. */
export interface PodCertificateCensus {
  issued: number;
  denied: number;
  failed: number;
  pending: number;
  /** The longest-waiting unanswered request: what to look at when pods hang in ContainerCreating. */
  oldestPending?: { name: string; createdAt: number };
}

export function podCertificateCensus(items: readonly PodCertificateRequest[], signerName: string): PodCertificateCensus {
  const c: PodCertificateCensus = { issued: 0, denied: 0, failed: 0, pending: 0 };
  for (const r of items) {
    if (r.spec?.signerName !== signerName) continue;
    const answer = answeredAs(r);
    if (answer === CONDITION.issued) c.issued++;
    else if (answer === CONDITION.denied) c.denied++;
    else if (answer === CONDITION.failed) c.failed++;
    else {
      c.pending++;
      const createdAt = Date.parse(r.metadata.creationTimestamp ?? '');
      if (!Number.isNaN(createdAt) && (!c.oldestPending || createdAt < c.oldestPending.createdAt)) {
        c.oldestPending = { name: `${r.metadata.namespace}/${r.metadata.name}`, createdAt };
      }
    }
  }
  return c;
}

/** One line; `null` when the API server serves no PodCertificateRequests. */
export function formatPodCertificateCensus(signerName: string, c: PodCertificateCensus | null, now: number): string {
  if (c === null) return `pod certificates (${signerName}): this API server serves no PodCertificateRequests (Kubernetes 1.35+, certificates.k8s.io/v1beta1)`;
  const oldest = c.oldestPending ? ` (oldest ${c.oldestPending.name}, waiting ${Math.max(0, Math.round((now - c.oldestPending.createdAt) / 1000))}s)` : '';
  return `pod certificates (${signerName}): ${c.issued} issued, ${c.denied} denied, ${c.failed} failed, ${c.pending} pending${oldest}`;
}
