import { MOUNT_WORKLOAD, SPIFFE_ENDPOINT_SOCKET, SPIFFE_ENDPOINT_SOCKET_ENV } from '../common/pod-contract.js';
import { VOLUME_WORKLOAD } from './constants.js';
import { extend, isObject, type Container } from './types.js';

/**
 * Read-only is enough for a client: connect(2) on a Unix socket needs write permission on the socket
 * file, which a read-only mount does not take away (only the server, which creates it, needs a writable one).
 */
const MOUNT = { name: VOLUME_WORKLOAD, mountPath: MOUNT_WORKLOAD, readOnly: true };
const ENV = { name: SPIFFE_ENDPOINT_SOCKET_ENV, value: SPIFFE_ENDPOINT_SOCKET };

const mountsOf = (c: Container): unknown[] => (Array.isArray(c.volumeMounts) ? c.volumeMounts : []);
const named = (list: unknown[] | undefined, key: 'name' | 'mountPath', value: string) => (list ?? []).some((x) => isObject(x) && x[key] === value);

/**
 * Gives each app container the Workload API socket: the meshid-workload volume at its folder and
 * SPIFFE_ENDPOINT_SOCKET, where SPIFFE libraries look for it. A container that already sets that
 * variable (pointing at a SPIRE agent, say) or mounts something at that folder is left as it is.
 */
export function shareWorkloadSocket(containers: Container[]): { containers: Container[]; shared: string[] } {
  const shared: string[] = [];
  const out = containers.map((c) => {
    if (named(c.env, 'name', SPIFFE_ENDPOINT_SOCKET_ENV) || named(mountsOf(c), 'mountPath', MOUNT_WORKLOAD)) return c;
    shared.push(c.name);
    return extend(c, { env: [...(c.env ?? []), ENV], volumeMounts: [...mountsOf(c), MOUNT] });
  });
  return { containers: out, shared };
}

/** Takes back what shareWorkloadSocket added to the containers it names; fields it created go again. */
export function unshareWorkloadSocket(containers: Container[], shared: string[] | undefined): Container[] {
  if (!shared || shared.length === 0) return containers;
  return containers.map((c) => {
    if (!shared.includes(c.name)) return c;
    const copy = { ...c };
    const env = (c.env ?? []).filter((e) => !(isObject(e) && e.name === ENV.name && e.value === ENV.value));
    const mounts = mountsOf(c).filter((m) => !(isObject(m) && m.name === VOLUME_WORKLOAD));
    if (env.length > 0) copy.env = env;
    else delete copy.env;
    if (mounts.length > 0) copy.volumeMounts = mounts;
    else delete copy.volumeMounts;
    return copy;
  });
}
