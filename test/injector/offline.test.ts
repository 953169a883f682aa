import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { injectCommand } from '../../src/cli/inject.js';
import { injectorConfig } from '../../src/injector/config.js';
import { injectYaml } from '../../src/injector/offline.js';
import { containerNames, validatePod } from './support.js';

const config = injectorConfig();
const spec = `spec:
      containers:
        - name: app
          image: app:1
          ports: [{ name: http, containerPort: 8080 }]
          livenessProbe: { httpGet: { path: /live, port: http } }`;
const template = (indent: string) => `template:\n${indent}  metadata:\n${indent}    labels: { app: x }\n${indent}  ${spec.replace(/\n/g, `\n${indent}`)}`;

const INPUT = `# Leading comment, kept.
apiVersion: v1
kind: Pod
metadata:
  name: bare
  namespace: apps
spec:
  containers:
    - name: app
      image: app:1
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: d }
spec:
  selector: { matchLabels: { app: x } }
  ${template('  ')}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: s }
spec:
  ${template('  ')}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: ds }
spec:
  ${template('  ')}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: { name: rs }
spec:
  ${template('  ')}
---
apiVersion: v1
kind: ReplicationController
metadata: { name: rc }
spec:
  ${template('  ')}
---
apiVersion: batch/v1
kind: Job
metadata: { name: j }
spec:
  ${template('  ')}
---
apiVersion: batch/v1
kind: CronJob
metadata: { name: cj }
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      ${template('      ')}
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    metadata: { name: in-list }
    spec: { containers: [{ name: app, image: app:1 }] }
  - apiVersion: v1
    kind: ConfigMap
    metadata: { name: cm-in-list }
---
# A service: comments, key order and quoting survive.
apiVersion: v1
kind: Service
metadata:
  name: svc   # trailing comment
  labels: { zeta: "1", alpha: '2' }
spec:
  ports: [{ port: 80 }]
---
apiVersion: v1
kind: ConfigMap
metadata: { name: cm }
data:
  key: |
    multi
    line
`;

function templates(doc: any): any[] {
  switch (doc.kind) {
    case 'Pod': return [doc];
    case 'CronJob': return [doc.spec.jobTemplate.spec.template];
    case 'List': return doc.items.filter((i: any) => i.kind === 'Pod');
    default: return [doc.spec.template];
  }
}

test('every workload kind in a multi-document file is injected; other kinds pass through', () => {
  const result = injectYaml(INPUT, config);
  assert.equal(result.injected, 9);
  const docs = parseAllDocuments(result.yaml).map((d) => d.toJS());
  assert.deepEqual(docs.map((d) => d.kind), ['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job', 'CronJob', 'List', 'Service', 'ConfigMap']);
  for (const doc of docs.slice(0, 9)) {
    for (const t of templates(doc)) {
      assert.deepEqual(containerNames(t.spec.initContainers), ['meshid-init', 'meshid-proxy'], doc.kind);
      assert.ok(t.metadata.annotations['meshid.io/status'], doc.kind);
      validatePod({ metadata: { name: 'x' }, ...t });
    }
  }
  assert.equal(docs[1].spec.template.spec.containers[0].livenessProbe.httpGet.path, '/app-health/app/livez');
  assert.equal(docs[8].items[1].kind, 'ConfigMap');
  assert.equal(docs[7].spec.schedule, '*/5 * * * *');
  const original = INPUT.split('---\n');
  const out = result.yaml.split('---\n');
  assert.equal(out[9], original[9], 'the Service document is byte-for-byte the same');
  assert.equal(out[10], original[10], 'the ConfigMap document is byte-for-byte the same');
  assert.match(result.yaml, /^# Leading comment, kept\./);
});

test('offline injection is idempotent: injecting the output again changes nothing', () => {
  const once = injectYaml(INPUT, config).yaml;
  assert.equal(injectYaml(once, config).yaml, once);
});

test('opted-out and hostNetwork templates are passed through and reported', () => {
  const yaml = `apiVersion: v1
kind: Pod
metadata: { name: out, labels: { meshid.io/inject: "false" } }
spec: { containers: [{ name: a, image: a }] }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: host, namespace: kube-system }
spec: { template: { spec: { containers: [{ name: a, image: a }] } } }
`;
  const r = injectYaml(yaml, config);
  assert.equal(r.injected, 0);
  assert.equal(r.yaml, yaml);
  assert.deepEqual(r.skipped.map((s) => s.where), ['document 1 (Pod out)', 'document 2 (Deployment host)']);
});

test('bad YAML and bad workloads are refused with a message naming the document', () => {
  const cases: Array<[string, RegExp]> = [
    ['a: [1, 2\n', /document 1\b/],
    ['kind: ConfigMap\n---\nkey: value\nkey: again\n', /document 2: .*[Dd]uplicate|document 2: .*unique/],
    ['apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: d }\nspec: {}\n', /document 1 \(Deployment d\): spec.template is missing/],
    ['kind: Pod\nspec: { containers: 3 }\n', /spec.containers is not a list/],
    ['kind: Pod\nmetadata: { annotations: { sidecar.meshid.io/proxyCPU: lots } }\nspec: { containers: [{ name: a }] }\n', /proxyCPU: "lots"/],
    ['kind: Pod\nspec:\n  containers: [{name: a}]\n\t- bad tab\n', /document 1\b/],
  ];
  for (const [yaml, message] of cases) assert.throws(() => injectYaml(yaml, config), message, yaml);
});

test('an alias bomb is refused rather than expanded', () => {
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 10; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  lines.push('kind: Pod');
  const started = Date.now();
  assert.throws(() => injectYaml(lines.join('\n'), config), /document 1: .*[Ee]xcessive alias/);
  assert.ok(Date.now() - started < 2000);
});

test('scalars, empty documents and unknown kinds pass through', () => {
  const yaml = '--- just a string\n---\n---\n- 1\n- 2\n---\nkind: Widget\nspec: { template: {} }\n';
  assert.equal(injectYaml(yaml, config).injected, 0);
});

test('meshid inject reads stdin, writes stdout, and -o writes a file', async () => {
  const out: string[] = [];
  const err: string[] = [];
  const io = { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) };
  assert.equal(await injectCommand(['-f', '-'], io, Readable.from([Buffer.from(INPUT)])), 0);
  assert.equal(out.join(''), injectYaml(INPUT, config).yaml);

  const dir = await mkdtemp(join(tmpdir(), 'meshid-inject-'));
  try {
    await writeFile(join(dir, 'in.yaml'), INPUT);
    out.length = 0;
    assert.equal(await injectCommand(['-f', join(dir, 'in.yaml'), '-o', join(dir, 'out.yaml')], io), 0);
    assert.equal(out.join(''), '');
    assert.equal(await readFile(join(dir, 'out.yaml'), 'utf8'), injectYaml(INPUT, config).yaml);
    await assert.rejects(injectCommand(['-f', join(dir, 'missing.yaml')], io), /ENOENT|no such file/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('meshid inject --help prints usage; a missing -f or unknown flag is a usage error', async () => {
  const out: string[] = [];
  const io = { stdout: (s: string) => void out.push(s), stderr: () => {} };
  assert.equal(await injectCommand(['--help'], io), 0);
  assert.match(out.join(''), /usage: meshid inject -f FILE\|- \[-o FILE\]/);
  await assert.rejects(injectCommand([], io), /-f FILE or -f - \(stdin\) is required/);
  await assert.rejects(injectCommand(['--bogus'], io), /bogus/);
  await assert.rejects(injectCommand(['-f', '-'], io, Readable.from([Buffer.from('a: [')])), /document 1/);
});

test('output has no YAML anchors or aliases, and user init containers keep their comments', () => {
  const yaml = `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    metadata: { name: a }
    spec:
      initContainers:
        - name: migrate # runs first
          image: m
      containers: [{ name: a, image: a }]
  - apiVersion: v1
    kind: Pod
    metadata: { name: b }
    spec: { containers: [{ name: b, image: b }] }
`;
  const out = injectYaml(yaml, config).yaml;
  assert.doesNotMatch(out, /[&*]a\d/);
  assert.match(out, /- name: migrate # runs first/);
  const [a, b] = parseAllDocuments(out)[0]!.toJS().items;
  assert.deepEqual(containerNames(a.spec.initContainers), ['meshid-init', 'meshid-proxy', 'migrate']);
  assert.deepEqual(a.spec.initContainers[1].resources, b.spec.initContainers[1].resources);
});
