import { createServer } from 'node:net';

/** `serve --listen-address`'s default: every interface, IPv4 and IPv6 (IPv4 arrives v4-mapped). */
export const DEFAULT_LISTEN_ADDRESS = '::';
/** Where the default goes on a host without IPv6. */
export const IPV4_ANY = '0.0.0.0';

/**
 * Only the default falls back: an operator who named an address wants that one or a clear failure,
 * never a server quietly listening somewhere else.
 */
export function chooseListenAddress(explicit: string | undefined, ipv6Usable: boolean): { address: string; fellBack: boolean } {
  if (explicit !== undefined) return { address: explicit, fellBack: false };
  return ipv6Usable ? { address: DEFAULT_LISTEN_ADDRESS, fellBack: false } : { address: IPV4_ANY, fellBack: true };
}

/** Whether `::` can be bound here: false on a kernel without IPv6 or with it disabled. */
export function canBindIpv6Any(): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ host: DEFAULT_LISTEN_ADDRESS, port: 0 }, () => probe.close(() => resolve(true)));
  });
}

/**
 * The address a client on this host uses to reach a server listening on `address`: a wildcard becomes
 * 127.0.0.1, which a dual-stack `::` accepts too and the serving certificate names.
 */
export function loopbackFor(address: string): string {
  const reach = address === IPV4_ANY || address === DEFAULT_LISTEN_ADDRESS ? '127.0.0.1' : address;
  return reach.includes(':') ? `[${reach}]` : reach;
}
