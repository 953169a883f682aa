import { signCertificate, subjectKeyOf } from '../pki/certificate.js';
import { generateKeyPair, privateKeyPem } from '../pki/keys.js';
import { encodePem } from '../pki/pem.js';
import { serialFrom, servingTemplate } from '../pki/templates.js';
import type { CaMaterial } from '../ca/material.js';

export interface ServingCert {
  key: string;
  /** Leaf then the CA chain, as a TLS server presents it. */
  cert: string;
  notAfter: number;
}

/** The names a workload or the API server uses to reach the control plane, in cluster and locally. */
export function servingNames(namespace: string, service = 'meshid'): string[] {
  return ['localhost', service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

export function issueServingCert(ca: CaMaterial, o: { dnsNames: string[]; ips: string[]; now: number; ttlMs: number; random: (n: number) => Buffer }): ServingCert {
  const keys = generateKeyPair('ec-p256');
  const template = servingTemplate({ ...o, serial: serialFrom(o.random(16)), rsaKey: false, issuerNotAfter: ca.signer.notAfter });
  const der = signCertificate(template, subjectKeyOf(keys.publicKey), ca.signer);
  return { key: privateKeyPem(keys.privateKey), cert: [encodePem('CERTIFICATE', der), ...ca.chain].join(''), notAfter: template.notAfter };
}
