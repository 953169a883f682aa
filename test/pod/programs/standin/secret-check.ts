import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import type { SecretKind } from './bootstrap-plan.js';

/** What the state file shows of one accepted secret: the public parts, and only whether a key came (the key itself stays in memory). */
export interface SecretView {
  version: string;
  certificateChain?: string;
  hasPrivateKey?: boolean;
  trustedCa?: string;
}

/** Envoy's DataSource as proto-loader decodes it (keepCase). */
interface DataSource { inline_bytes?: Buffer; inline_string?: string; filename?: string }

export interface DecodedSecret {
  name?: string;
  tls_certificate?: { certificate_chain?: DataSource; private_key?: DataSource };
  validation_context?: { trusted_ca?: DataSource };
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Accepts a secret as Envoy would load it into the transport sockets that name it, or says why not (the
 * NACK's message): each kind the config needs must be there, certificates must parse and the private key
 * must match the leaf. `readFile` resolves `filename` data sources.
 */
export function checkSecret(secret: DecodedSecret, kinds: Set<SecretKind>, version: string, readFile: (path: string) => string): { view: SecretView; key?: string } | { problem: string } {
  const name = secret.name ?? '';
  const view: SecretView = { version };
  let privateKey: string | undefined;
  try {
    if (kinds.has('tls_certificate')) {
      const tls = secret.tls_certificate;
      if (!tls) return { problem: `secret "${name}" has no tls_certificate, which its transport socket needs` };
      const chain = text(tls.certificate_chain, readFile);
      if (!chain) return { problem: `secret "${name}": tls_certificate has no certificate_chain` };
      const key = text(tls.private_key, readFile);
      if (!key) return { problem: `secret "${name}": tls_certificate has no private_key` };
      const leaf = certificates(chain, `secret "${name}" certificate_chain`)[0]!;
      if (!leaf.publicKey.equals(createPublicKey(createPrivateKey(key)))) return { problem: `secret "${name}": private_key does not match the leaf certificate` };
      view.certificateChain = chain;
      view.hasPrivateKey = true;
      privateKey = key;
    }
    if (kinds.has('validation_context')) {
      const ca = text(secret.validation_context?.trusted_ca, readFile);
      if (!ca) return { problem: `secret "${name}" has no validation_context.trusted_ca, which its transport socket needs` };
      certificates(ca, `secret "${name}" trusted_ca`);
      view.trustedCa = ca;
    }
  } catch (err) {
    // Parser messages name the failing part, never key material.
    return { problem: `secret "${name}": ${(err as Error).message}` };
  }
  return { view, ...(privateKey ? { key: privateKey } : {}) };
}

function text(source: DataSource | undefined, readFile: (path: string) => string): string {
  if (!source) return '';
  if (source.inline_bytes && source.inline_bytes.length > 0) return Buffer.from(source.inline_bytes).toString('utf8');
  if (source.inline_string) return source.inline_string;
  if (source.filename) return readFile(source.filename);
  return '';
}

function certificates(pem: string, what: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new Error(`${what} holds no PEM certificate`);
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch {
      throw new Error(`${what} holds a certificate that does not parse`);
    }
  });
}
