// The shipped CLI: `tsc`'s output bundled by esbuild into <outDir>/bin/meshid.mjs, with one chunk per
// command. A sidecar starts `meshid agent` in every pod: from one file per command instead of ~170
// modules resolved and loaded one by one, its process reaches the first SVID ~100 ms sooner (--jitless).
// Usage: node scripts/bundle.mjs [outDir]   (default dist; the helpers' dist-NAME builds pass theirs)
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const outDir = process.argv[2] ?? 'dist';
// Syntax is lowered for the oldest Node that package.json's `engines` admits, so the two cannot drift apart.
const { engines, version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const minNode = /^>=(\d+)$/.exec(engines.node)?.[1];
if (!minNode) throw new Error(`package.json engines.node must read ">=MAJOR", not ${JSON.stringify(engines.node)}`);
const bin = join(outDir, 'bin');
await build({
  entryPoints: { meshid: join(outDir, 'src/cli/main.js') },
  outdir: bin,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: `node${minNode}`,
  // CommonJS dependencies (grpc-js, pino, forge) call require() for node's built-in modules; an ES module
  // has no require of its own.
  banner: { js: "import { createRequire as meshidCreateRequire } from 'node:module'; const require = meshidCreateRequire(import.meta.url);" },
  // `meshid version` names the build: the image ships dist/bin without package.json.
  define: { MESHID_BUILD_VERSION: JSON.stringify(version) },
  logLevel: 'warning',
});
chmodSync(join(bin, 'meshid.mjs'), 0o755);
