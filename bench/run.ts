import { benchAgent } from './agent.js';
import { benchCa } from './ca.js';
import { benchCaBurst } from './ca-burst.js';
import { benchCaOverload } from './ca-overload.js';
import { benchInjector } from './injector.js';
import { benchIstioCa } from './istio-ca.js';
import { benchJwt } from './jwt.js';
import { benchMeshView } from './mesh-view.js';
import { benchPodCertificates } from './podcert.js';
import { printFigures, type Figure } from './figures.js';

/** npm run bench: every figure next to its ceiling measured in the same run, as a ratio. */
const suites: Array<[string, () => Promise<Figure[]>]> = [
  ['CA issuance', benchCa],
  ['CA issuance burst', benchCaBurst],
  ['CA overload', benchCaOverload],
  ['Istio CA API issuance', benchIstioCa],
  ['JWT-SVID issuance', benchJwt],
  ['PodCertificateRequest signer', benchPodCertificates],
  ['Injector', benchInjector],
  ['Agent', benchAgent],
  ['Mesh view delivery', benchMeshView],
];

// `npm run bench -- agent injector` runs only the suites whose titles name one of those words.
const only = process.argv.slice(2).map((w) => w.toLowerCase());
for (const [title, run] of suites.filter(([t]) => only.length === 0 || only.some((w) => t.toLowerCase().includes(w)))) {
  try {
    printFigures(title, await run());
  } catch (err) {
    console.log(`\n## ${title}\n- failed: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
