import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { CaError, type CaClientOptions } from './ca-client.js';
import { fetchJwtBundle, requestJwtSvid, type JwtSvidGrant } from './ca-jwt.js';
import { JwtBundleSource } from './jwt-bundle.js';
import { JwtSvidCache } from './jwt-svid-cache.js';
import { JwtSvidRefused, subjectTrustDomain, validateJwtSvid, type ValidatedJwtSvid } from './jwt-validate.js';
import type { Timers } from './timers.js';
import { readToken } from './token.js';
import type { JwtBundlesResponse } from './workload-protos.js';
import type { Versioned } from './workload-x509.js';

export interface WorkloadJwtOptions {
  ca: CaClientOptions;
  tokenFile: string;
  spiffeId: string;
  trustDomain: string;
  clock: Clock;
  timers: Timers;
  /** How often a JWT bundle, once needed, is fetched again. */
  intervalMs: number;
  logger: Logger;
}

/** The JWT-SVID profile's data: JWT-SVIDs and the JWT bundle from the CA, and validation against it. */
export class WorkloadJwt {
  private readonly cache: JwtSvidCache;
  private readonly bundle: JwtBundleSource;
  private readonly trustDomainId: string;

  constructor(private readonly o: WorkloadJwtOptions) {
    this.trustDomainId = `spiffe://${o.trustDomain}`;
    this.cache = new JwtSvidCache((audience) => this.request(audience), o.clock);
    this.bundle = new JwtBundleSource({ fetch: () => fetchJwtBundle(o.ca), clock: o.clock, timers: o.timers, intervalMs: o.intervalMs, logger: o.logger });
  }

  svid(audience: string[]): Promise<JwtSvidGrant> {
    return this.cache.get(audience);
  }

  /** JWTBundlesResponse for what is held: the JWK Set's bytes keyed by the trust domain's SPIFFE ID. */
  bundles(): Versioned<JwtBundlesResponse> | null {
    const held = this.bundle.current();
    return held && { version: held.version, message: { bundles: { [this.trustDomainId]: held.bytes } } };
  }

  async ensureBundles(): Promise<void> {
    await this.bundle.ensure();
  }

  onBundleChange(listener: () => void): void {
    this.bundle.on('change', listener);
  }

  offBundleChange(listener: () => void): void {
    this.bundle.off('change', listener);
  }

  /** An SVID rotation may come with a new JWT signing key (it rotates with the CA): look again. */
  afterRotation(): void {
    this.bundle.refresh().catch((err: Error) => this.o.logger.warn({ err: err.message }, 'cannot refresh the JWT bundle after a rotation'));
  }

  async validate(token: string, audience: string): Promise<ValidatedJwtSvid> {
    const td = await subjectTrustDomain(token);
    if (td !== this.o.trustDomain) throw new JwtSvidRefused(`the JWT-SVID is from trust domain "${td.slice(0, 64)}"; this agent holds the JWT bundle of ${this.o.trustDomain} only`);
    const held = await this.bundle.ensure();
    try {
      return await validateJwtSvid(token, audience, held.jwks, this.o.clock.now());
    } catch (err) {
      if (!(err instanceof JwtSvidRefused && err.unknownKey) || !(await this.bundle.refreshForUnknownKey())) throw err;
      return validateJwtSvid(token, audience, this.bundle.current()!.jwks, this.o.clock.now());
    }
  }

  stop(): void {
    this.bundle.stop();
  }

  private async request(audience: string[]): Promise<JwtSvidGrant> {
    const grant = await requestJwtSvid(this.o.ca, { token: await readToken(this.o.tokenFile), audience });
    if (grant.spiffeId !== this.o.spiffeId) throw new CaError('wrong_identity', `the CA issued a JWT-SVID for ${grant.spiffeId.slice(0, 200)}, expected ${this.o.spiffeId}`, false);
    return grant;
  }
}
