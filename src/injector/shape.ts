import { MeshidError } from '../common/errors.js';
import { show } from '../common/text.js';
import { isObject, type Pod } from './types.js';

/**
 * Checks the parts of a pod the injector reads, so malformed input yields a message naming the
 * field instead of a TypeError deep inside rendering. Everything else is the API server's to judge.
 */
export function assertPodShape(v: unknown, where = 'pod'): asserts v is Pod {
  const fail = (msg: string): never => {
    throw new MeshidError('invalid_pod', `${where}: ${msg}`);
  };
  if (!isObject(v)) fail('is not an object');
  const pod = v as Record<string, unknown>;
  if (pod.metadata !== undefined) {
    if (!isObject(pod.metadata)) fail('metadata is not an object');
    const meta = pod.metadata as Record<string, unknown>;
    for (const field of ['labels', 'annotations'] as const) {
      const map = meta[field];
      if (map === undefined || map === null) continue;
      if (!isObject(map)) fail(`metadata.${field} is not an object`);
      for (const k of Object.keys(map as object)) {
        if (typeof (map as Record<string, unknown>)[k] !== 'string') fail(`metadata.${field}[${show(k)}] is not a string`);
      }
    }
  }
  if (!isObject(pod.spec)) fail('spec is not an object');
  const spec = pod.spec as Record<string, unknown>;
  namedList(spec.containers, 'spec.containers', true, fail);
  namedList(spec.initContainers, 'spec.initContainers', false, fail);
  namedList(spec.volumes, 'spec.volumes', false, fail);
}

const CHECKED_FIELDS = ['livenessProbe', 'readinessProbe', 'startupProbe', 'ports'] as const;

function namedList(list: unknown, field: string, required: boolean, fail: (m: string) => never): void {
  if (list === undefined || list === null) {
    if (required) fail(`${field} is missing`);
    return;
  }
  if (!Array.isArray(list)) fail(`${field} is not a list`);
  (list as unknown[]).forEach((item, i) => {
    if (!isObject(item) || typeof item.name !== 'string') fail(`${field}[${i}] has no name`);
    const c = item as Record<string, unknown>;
    for (const probe of CHECKED_FIELDS) {
      if (c[probe] === undefined || c[probe] === null) continue;
      const ok = probe === 'ports' ? Array.isArray(c[probe]) && (c[probe] as unknown[]).every(isObject) : isObject(c[probe]);
      if (!ok) fail(`${field}[${i}].${probe} is malformed`);
    }
  });
}
