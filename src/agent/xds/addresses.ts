import { isIP } from 'node:net';

export function socketAddress(address: string, port: number): { socket_address: { address: string; port_value: number } } {
  return { socket_address: { address, port_value: port } };
}

/**
 * Envoy binds IPv6 sockets v6-only, so [::] sits beside 0.0.0.0 as a second address of the same listener (as
 * Istio does), wherever the pod has an IPv6 address.
 */
export function listenerAddresses(podIps: readonly string[], port: number): Record<string, unknown> {
  return {
    address: socketAddress('0.0.0.0', port),
    ...(podIps.some((ip) => isIP(ip) === 6) ? { additional_addresses: [{ address: socketAddress('::', port) }] } : {}),
  };
}
