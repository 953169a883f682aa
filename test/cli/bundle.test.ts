import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { meshid } from '../helpers/cli.js';
import { tempDir } from '../helpers/openssl.js';

// The image ships dist/bin alone. `serve`, `token`, `ca` and `agent` run from the same copy in other tests.
test('every command of the shipped bundle loads from a folder with no node_modules', async () => {
  for (const command of ['serve', 'token', 'agent', 'inject', 'iptables', 'ca']) {
    const r = await meshid([command, '--help']);
    assert.equal(r.code, 0, `${command}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^usage: meshid ${command}`, 'i'), command);
  }

  const dir = await tempDir('cli-bundle-');
  const pod = join(dir, 'pod.yaml');
  await writeFile(pod, 'apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec: {containers: [{name: app, image: nginx}]}\n');
  const injected = await meshid(['inject', '-f', pod]);
  assert.equal(injected.code, 0, injected.stderr);
  assert.match(injected.stdout, /name: meshid-init[\s\S]*name: meshid-proxy/);

  const rules = await meshid(['iptables', '--dry-run']);
  assert.equal(rules.code, 0, rules.stderr);
  assert.match(rules.stdout, /^# IPv4\n\*nat\n/);
});
