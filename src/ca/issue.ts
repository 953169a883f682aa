import { MeshidError } from '../common/errors.js';
import { signCertificate } from '../pki/certificate.js';
import { parseCsrPem, type ParsedCsr } from '../pki/csr.js';
import { encodePem } from '../pki/pem.js';
import { workloadSpiffeId } from '../pki/spiffe.js';
import { serialFrom, workloadTemplate } from '../pki/templates.js';
import type { Caller } from './auth/verifier.js';
import type { CaMaterial } from './material.js';
import { grantedTtlMs, type TtlPolicy } from './ttl.js';

export interface IssueRequest {
  csr: string;
  ttlSeconds?: number;
}

export interface IssueContext {
  ca: CaMaterial;
  trustDomain: string;
  ttl: TtlPolicy;
  now: number;
  random: (n: number) => Buffer;
}

export interface IssuedCertificate {
  spiffeId: string;
  leafPem: string;
  /** The leaf, then the CA certificates that chain it to a root. */
  certChain: string[];
  trustBundle: string[];
  expiresAt: string;
  serial: string;
}

/** Signs the CSR for the caller's identity, which comes from the token and never from the CSR. */
export function issueWorkloadCertificate(req: IssueRequest, caller: Caller, ctx: IssueContext): IssuedCertificate {
  const ttlMs = grantedTtlMs(req.ttlSeconds, ctx.ttl);
  const csr = parseCsrPem(req.csr);
  const spiffeId = workloadSpiffeId({ trustDomain: ctx.trustDomain, namespace: caller.namespace, serviceAccount: caller.serviceAccount });
  checkCsrAsks(csr, spiffeId);

  const serial = serialFrom(ctx.random(16));
  const template = workloadTemplate({
    now: ctx.now,
    ttlMs,
    serial,
    spiffeId,
    rsaKey: csr.keyInfo.kind === 'rsa',
    issuerNotAfter: ctx.ca.signer.notAfter,
  });
  const leafPem = encodePem('CERTIFICATE', signCertificate(template, csr, ctx.ca.signer));
  return {
    spiffeId,
    leafPem,
    certChain: [leafPem, ...ctx.ca.chain],
    trustBundle: ctx.ca.roots,
    expiresAt: new Date(Math.floor(template.notAfter / 1000) * 1000).toISOString(),
    serial: serial.toString('hex'),
  };
}

/** A CSR may ask for nothing or for exactly the caller's own SPIFFE ID; anything more is refused. */
export function checkCsrAsks(csr: ParsedCsr, spiffeId: string): void {
  if (csr.requestsCa) throw new MeshidError('ca_not_allowed', 'the CSR asks for CA rights (basicConstraints CA:true or keyCertSign); workloads get leaf certificates only', 403);
  const { uris, dns, ips, emails, other } = csr.sans;
  if (dns.length + ips.length + emails.length + other > 0) {
    throw new MeshidError('san_not_allowed', 'the CSR asks for DNS, IP, email or other names; a workload certificate carries only its SPIFFE ID', 403);
  }
  const foreign = uris.find((u) => u !== spiffeId);
  if (foreign !== undefined) {
    throw new MeshidError('identity_mismatch', `the CSR asks for ${foreign.slice(0, 200)} but the token authenticates ${spiffeId}`, 403);
  }
}
