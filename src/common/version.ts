import { readFileSync } from 'node:fs';

declare const MESHID_BUILD_VERSION: string | undefined;

/**
 * package.json's version, written into the bundle by scripts/bundle.mjs (the image ships no package.json);
 * the unbundled build (tests of src/) reads it from the repository.
 */
export function meshidVersion(): string {
  if (typeof MESHID_BUILD_VERSION === 'string') return MESHID_BUILD_VERSION;
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
