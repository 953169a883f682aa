import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Image } from './images.js';

/** Runs one of an image's programs in a network namespace (no pod around it); resolves once it prints `ready`. */
export function spawnInNamespace(ns: string, image: Image, argv: string[]): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, join(image.binDir, argv[0]!), ...argv.slice(1)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (/^ready$/m.test(out)) resolve(child);
    });
    child.stderr!.on('data', (d) => (out += d));
    child.once('exit', (code) => reject(new Error(`${argv.join(' ')} exited ${code}: ${out}`)));
  });
}
