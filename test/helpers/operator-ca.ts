import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openssl, tempDir } from './openssl.js';

/** An operator's plug-in CA, made with openssl alone: root, then an intermediate under it. */
export async function operatorCa(): Promise<string> {
  const work = await tempDir('plugin-work-');
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'root-key.pem', '-out', 'root-cert.pem',
    '-days', '365', '-subj', '/O=Acme/CN=Acme Root CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], work);
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.csr', '-subj', '/O=Acme/CN=Acme Mesh CA'], work);
  await writeFile(join(work, 'ext.cnf'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectAltName=URI:spiffe://cluster.local\n');
  await openssl(['x509', '-req', '-in', 'ca.csr', '-CA', 'root-cert.pem', '-CAkey', 'root-key.pem', '-CAcreateserial', '-days', '180', '-out', 'ca-cert.pem', '-extfile', 'ext.cnf'], work);
  await writeFile(join(work, 'cert-chain.pem'), (await readFile(join(work, 'ca-cert.pem'), 'utf8')) + (await readFile(join(work, 'root-cert.pem'), 'utf8')));
  const dataDir = await tempDir('plugin-');
  for (const f of ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem']) await copyFile(join(work, f), join(dataDir, f));
  return dataDir;
}
