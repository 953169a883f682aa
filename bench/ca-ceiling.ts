import { createPublicKey, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { FileCaStore } from '../src/ca/file-store.js';
import { loadCaMaterial } from '../src/ca/material.js';
import { loadLocalIssuer } from '../src/ca/auth/local-issuer.js';
import { bitStringBytes, children, parseDerSequence } from '../src/pki/der.js';
import { decodePem } from '../src/pki/pem.js';
import type { CaFixture } from './ca-fixture.js';

/**
 * The raw crypto one issuance needs, and nothing else: verify the token's RS256 signature with a
 * cached key, import the CSR's public key by the fastest path node has (JWK), verify the CSR's
 * signature with it, and sign a certificate-sized body with the CA key.
 */
export class RawIssuanceCrypto {
  private readonly tokens: Array<{ signed: Buffer; signature: Buffer }>;
  private readonly csrs: Array<{ jwk: JsonWebKey; signed: Buffer; signature: Buffer }>;
  private readonly tbs = Buffer.alloc(450, 0x5a);
  private next = 0;

  constructor(tokens: string[], csrPems: string[], private readonly tokenKey: KeyObject, private readonly caKey: KeyObject, private readonly caHash: string) {
    this.tokens = tokens.map((t) => {
      const dot = t.lastIndexOf('.');
      return { signed: Buffer.from(t.slice(0, dot)), signature: Buffer.from(t.slice(dot + 1), 'base64url') };
    });
    this.csrs = csrPems.map((pem) => {
      const der = decodePem(pem, ['CERTIFICATE REQUEST'], 'a bench CSR');
      const { elements: [info, , sig], bytes: [signed] } = parseDerSequence(der, 'a bench CSR', 'bench');
      const spki = children(info, 'request info', 'bench')[2];
      const bits = bitStringBytes(children(spki, 'spki', 'bench')[1], 'a bench CSR key', 'bench');
      if (bits.length !== 65) throw new Error('the bench CSRs carry P-256 keys');
      const jwk = { kty: 'EC', crv: 'P-256', x: bits.toString('base64url', 1, 33), y: bits.toString('base64url', 33) };
      return { jwk, signed: signed!, signature: bitStringBytes(sig, 'a bench CSR signature', 'bench') };
    });
  }

  /** One issuance's crypto; throws if a signature does not verify, so the loop measures real work. */
  once(): void {
    const i = this.next++;
    const token = this.tokens[i % this.tokens.length]!;
    const csr = this.csrs[i % this.csrs.length]!;
    const ok = verify('sha256', token.signed, this.tokenKey, token.signature) &&
      verify('sha256', csr.signed, { key: createPublicKey({ key: csr.jwk, format: 'jwk' }), dsaEncoding: 'der' }, csr.signature);
    if (!ok) throw new Error('a bench signature did not verify');
    sign(this.caHash, this.tbs, { key: this.caKey, dsaEncoding: 'der' });
  }

  /** Issuances per second of this process's CPU (user + system), measured over about `cpuMs` of it. */
  perCpuSecond(cpuMs: number): number {
    const start = process.cpuUsage();
    let n = 0;
    let used = 0;
    while (used < cpuMs * 1000) {
      for (let k = 0; k < 20; k++) this.once();
      n += 20;
      const d = process.cpuUsage(start);
      used = d.user + d.system;
    }
    return n / (used / 1e6);
  }
}

/** The ceiling for a fixture: its tokens and CSRs, its issuer's key and its signing CA's key. */
export async function rawCryptoFor(f: CaFixture): Promise<RawIssuanceCrypto> {
  const stored = await new FileCaStore(f.dataDir).read();
  if (!stored) throw new Error(`no CA material in ${f.dataDir}`);
  const signer = loadCaMaterial(stored.files, Date.now()).signer;
  const issuer = await loadLocalIssuer(f.dataDir, false);
  return new RawIssuanceCrypto(f.tokens, f.csrs, issuer.publicKey, signer.privateKey, signer.hash);
}
