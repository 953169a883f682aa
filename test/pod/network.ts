import { randomBytes } from 'node:crypto';
import { run } from './shell.js';

/** One pod's (or test host's) place on the harness's network: its own Linux network namespace. */
export interface NetHost {
  /** `ip netns` name. */
  ns: string;
  ipv4: string;
  /** Unset for a host made without IPv6. */
  ipv6?: string;
}

/**
 * The node's pod network: a bridge in the root namespace with a fresh /24 and /64 of the harness's own, and a
 * veth into a new network namespace per pod. The root namespace (where the kubelet's prober and the fake API
 * server run) reaches every pod at its address; pods reach each other over the bridge and the root namespace
 * at the gateway address. Names carry a random run id, so test files running at once never collide.
 */
export class PodNetwork {
  readonly gateway4: string;
  readonly gateway6: string;
  private readonly hosts: NetHost[] = [];
  private next = 2;

  private constructor(private readonly id: string, private readonly prefix4: string, private readonly prefix6: string) {
    this.gateway4 = `${prefix4}.1`;
    this.gateway6 = `${prefix6}::1`;
  }

  /** Fails loudly without root or iproute2: the pod tests mean nothing without real namespaces. */
  static async create(): Promise<PodNetwork> {
    if (process.getuid?.() !== 0) throw new Error('the pod harness needs root (network namespaces, iptables, mounts); run the tests as root');
    const id = randomBytes(3).toString('hex');
    const routes = await run('ip', ['-4', 'route', 'show']);
    let prefix4 = '';
    for (let tries = 0; tries < 50 && !prefix4; tries++) {
      const candidate = `10.${200 + (randomBytes(1)[0]! % 50)}.${randomBytes(1)[0]}`;
      if (!routes.includes(`${candidate}.`)) prefix4 = candidate;
    }
    const net = new PodNetwork(id, prefix4, `fd6d:${id.slice(0, 4)}:${id.slice(4)}00:1`);
    const bridge = net.bridge;
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await run('ip', ['addr', 'add', `${net.gateway4}/24`, 'dev', bridge]);
    await run('sysctl', ['-qw', `net.ipv6.conf.${bridge}.disable_ipv6=0`]);
    await run('ip', ['-6', 'addr', 'add', `${net.gateway6}/64`, 'dev', bridge, 'nodad']);
    await run('ip', ['link', 'set', bridge, 'up']);
    return net;
  }

  private get bridge(): string {
    return `mpb${this.id}`;
  }

  /** A new namespace on the bridge, with loopback up and default routes through the gateway. */
  async addHost(o: { ipv6?: boolean } = {}): Promise<NetHost> {
    const n = this.next++;
    const ns = `mp${this.id}-${n}`;
    const veth = `mv${this.id}${n}`;
    const host: NetHost = { ns, ipv4: `${this.prefix4}.${n}`, ...(o.ipv6 === false ? {} : { ipv6: `${this.prefix6}::${n.toString(16)}` }) };
    await run('ip', ['netns', 'add', ns]);
    this.hosts.push(host);
    const inNs = (...args: string[]) => run('ip', ['netns', 'exec', ns, ...args]);
    await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await run('ip', ['link', 'set', veth, 'master', this.bridge, 'up']);
    await inNs('ip', 'link', 'set', 'lo', 'up');
    await inNs('ip', 'addr', 'add', `${host.ipv4}/24`, 'dev', 'eth0');
    if (host.ipv6) await inNs('ip', '-6', 'addr', 'add', `${host.ipv6}/64`, 'dev', 'eth0', 'nodad');
    else await inNs('sysctl', '-qw', 'net.ipv6.conf.eth0.disable_ipv6=1');
    await inNs('ip', 'link', 'set', 'eth0', 'up');
    await inNs('ip', 'route', 'add', 'default', 'via', this.gateway4);
    if (host.ipv6) await inNs('ip', '-6', 'route', 'add', 'default', 'via', this.gateway6);
    return host;
  }

  async close(): Promise<void> {
    for (const h of this.hosts.splice(0)) await run('ip', ['netns', 'del', h.ns]).catch(() => undefined);
    await run('ip', ['link', 'del', this.bridge]).catch(() => undefined);
  }
}
