import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAIN } from '../helpers/cli.js';

/** What the harness runs for an image reference: the host's root filesystem, with the image's /usr/local/bin. */
export interface Image {
  /** Mounted over /usr/local/bin in each container of this image. */
  binDir: string;
  /** The image's USER, used when the pod sets no runAsUser. */
  uid: number;
  gid: number;
  env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
}

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const programs = fileURLToPath(new URL('./programs/', import.meta.url));

/**
 * The images the harness can "pull": the meshid image as the Dockerfile builds it (the bundled CLI linked as
 * /usr/local/bin/meshid, Envoy at /usr/local/bin/envoy, USER 1000), where the Envoy binary is the stand-in
 * (there is no Envoy here), and a test app image. Anything else fails the pod as an image pull would.
 */
export class ImageRegistry {
  readonly meshid: Image;
  readonly app: Image;
  private readonly root = mkdtempSync(join(tmpdir(), 'mpimg-'));
  private readonly images = new Map<string, Image>();

  constructor() {
    chmodSync(this.root, 0o755);
    // The bundle's copy sits in a private temp folder; containers run as other users and must reach it.
    chmodSync(dirname(MAIN), 0o755);
    const meshid = this.binDir('meshid', {
      meshid: { link: MAIN },
      envoy: { script: `exec ${process.execPath} ${join(programs, 'envoy-standin.js')} "$@"` },
    });
    this.meshid = { binDir: meshid, uid: 1000, gid: 1000, env: { PATH, NODE_ENV: 'production' }, entrypoint: ['node', MAIN], cmd: ['serve'] };
    const app = this.binDir('app', { 'test-app': { script: `exec ${process.execPath} ${join(programs, 'test-app.js')} "$@"` } });
    this.app = { binDir: app, uid: 1000, gid: 1000, env: { PATH }, entrypoint: ['test-app'], cmd: [] };
    process.on('exit', () => rmSync(this.root, { recursive: true, force: true }));
  }

  /** Registers `reference` (as a pod spec names it) to run as `image`. */
  tag(reference: string, image: Image): void {
    this.images.set(reference, image);
  }

  pull(reference: string): Image {
    const image = this.images.get(reference);
    if (!image) throw new Error(`ErrImagePull: image "${reference}" is not known to the harness (tagged: ${[...this.images.keys()].join(', ')})`);
    return image;
  }

  private binDir(name: string, files: Record<string, { link: string } | { script: string }>): string {
    const dir = join(this.root, name);
    mkdirSync(dir, { mode: 0o755 });
    symlinkSync(process.execPath, join(dir, 'node'));
    for (const [file, what] of Object.entries(files)) {
      if ('link' in what) symlinkSync(what.link, join(dir, file));
      else writeFileSync(join(dir, file), `#!/bin/sh\n${what.script}\n`, { mode: 0o755 });
    }
    return dir;
  }
}
