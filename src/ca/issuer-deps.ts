import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import type { TokenVerifier } from './auth/verifier.js';
import type { CertificateAuthority } from './authority.js';
import type { TtlPolicy } from './ttl.js';

/** What every API that signs workload certificates needs, whatever protocol it speaks (REST, Istio's gRPC). */
export interface IssuerDeps {
  authority: CertificateAuthority;
  verifier: TokenVerifier;
  trustDomain: string;
  ttl: TtlPolicy;
  clock: Clock;
  random: (n: number) => Buffer;
  /** The audit log: one line per request, never a key, token or CSR. */
  audit: Logger;
}
