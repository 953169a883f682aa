/**
 * Whether the pod's network namespace has an IPv6 address its traffic could use: anything but loopback and
 * link-local in /proc/net/if_inet6 (32 hex digits, then index, prefix length, scope, flags, name per line).
 *
 * An address, rather than the kernel merely having IPv6, is the test because the CNI plugin configures the
 * pod's addresses before any of its containers, the init container included, starts: what is there is what the
 * pod has. On an IPv4-only pod, requiring ip6tables' nat table (which such nodes may not have) would only
 * break the pod; link-local addresses reach the node's end of the veth, not other workloads.
 */
export function hasRoutableIpv6(ifInet6: string): boolean {
  return ifInet6.split('\n').some((line) => {
    const hex = line.trim().split(/\s+/)[0] ?? '';
    if (!/^[0-9a-f]{32}$/i.test(hex)) return false;
    const loopback = /^0{31}1$/.test(hex);
    const linkLocal = (parseInt(hex.slice(0, 4), 16) & 0xffc0) === 0xfe80;
    return !loopback && !linkLocal;
  });
}

/** `--ipv6` means IPv6 is required: redirected even without an address, and a failure fails the pod. */
export function familiesToRedirect(requireIpv6: boolean, routableIpv6: boolean): Array<4 | 6> {
  return requireIpv6 || routableIpv6 ? [4, 6] : [4];
}
