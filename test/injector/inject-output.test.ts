import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { STATUS_ANNOTATION } from '../../src/injector/constants.js';
import { meshid } from '../helpers/cli.js';
import { tempDir } from '../helpers/openssl.js';

async function inject(yaml: string): Promise<string> {
  const file = join(await tempDir('inject-out-'), 'in.yaml');
  await writeFile(file, yaml);
  const r = await meshid(['inject', '-f', file]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

const initCommand = (doc: unknown, templatePath: string[]): string[] => {
  let t = doc as Record<string, unknown>;
  for (const k of templatePath) t = t[k] as Record<string, unknown>;
  const spec = t.spec as { initContainers: Array<{ name: string; command: string[] }> };
  return spec.initContainers.find((c) => c.name === 'meshid-init')!.command;
};

test('meshid inject: the input\'s flow style stays where nothing was added, the sidecar comes out in block style', async () => {
  const out = await inject('apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, labels: {app: web}}\nspec: {containers: [{name: app, image: nginx, args: [serve, --port, "80"]}]}\n');
  const lines = out.split('\n');
  // The app container gains the Workload API socket, so its list turns block; its untouched args stay flow.
  assert.ok(lines.includes('      args: [ serve, --port, "80" ]'), `untouched flow sequence kept:\n${out}`);
  assert.ok(lines.includes('  labels: { app: web }'), 'untouched flow map kept');
  assert.ok(lines.includes('    - name: meshid-proxy'), 'the sidecar in block style');
  const long = lines.filter((l) => l.length > 160 && !l.includes(`${STATUS_ANNOTATION}:`));
  assert.deepEqual(long, [], 'no line but the status annotation runs long');
  assert.equal(await inject(out), out, 'injecting the output again changes nothing');
});

test('meshid inject: a template without metadata gets it before its spec; empty default flags are left out', async () => {
  const out = await inject('apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: nginx\n');
  const template = out.split('\n').filter((l) => /^    [a-z]/.test(l));
  assert.deepEqual(template.slice(0, 2), ['    metadata:', '    spec:'], out);
  const command = initCommand(parse(out), ['spec', 'template']);
  assert.deepEqual(command.filter((a) => a.endsWith('=')), [], `no empty flag: ${command.join(' ')}`);
  assert.deepEqual(command, ['meshid', 'iptables', '--proxy-uid=1337', '--inbound-port=15006', '--outbound-port=15001', '--include-inbound-ports=*', '--include-outbound-ip-ranges=*']);

  // An empty list that is not the default means something ("no inbound port") and stays.
  const none = await inject('apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    sidecar.meshid.io/includeInboundPorts: ""\nspec:\n  containers:\n  - name: app\n    image: nginx\n');
  assert.ok(initCommand(parse(none), []).includes('--include-inbound-ports='));
});

test('meshid inject: meshid.io/status is one compact line of JSON with the documented fields', async () => {
  const out = await inject('apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: app\n    image: nginx\n');
  const line = out.split('\n').find((l) => l.includes(`${STATUS_ANNOTATION}:`))!;
  const value = (parseAllDocuments(out)[0]!.toJS() as { metadata: { annotations: Record<string, string> } }).metadata.annotations[STATUS_ANNOTATION]!;
  assert.ok(!value.includes('\n') && !value.includes(': ') && line.endsWith(`'${value}'`));
  assert.deepEqual(Object.keys(JSON.parse(value)), ['version', 'initContainers', 'containers', 'volumes', 'created', 'defaultContainer', 'probes', 'workloadSocket']);
});
