/** What Envoy's tls_inspector learns from a connection's first bytes. */
export interface Inspected { transport: 'tls' | 'raw_buffer'; alpn: string[] }

/**
 * A TLS ClientHello's ALPN list, from the first bytes of a connection; null while more bytes are needed. Anything
 * that is not a ClientHello is `raw_buffer`, as tls_inspector reports it.
 */
export function inspect(buf: Buffer): Inspected | null {
  if (buf.length < 1) return null;
  if (buf[0] !== 0x16) return { transport: 'raw_buffer', alpn: [] };
  if (buf.length < 5) return null;
  if (buf[1] !== 0x03) return { transport: 'raw_buffer', alpn: [] };
  const recordEnd = 5 + buf.readUInt16BE(3);
  if (buf.length < recordEnd) return recordEnd > 16_389 ? { transport: 'raw_buffer', alpn: [] } : null;
  const hello = buf.subarray(5, recordEnd);
  if (hello[0] !== 0x01) return { transport: 'raw_buffer', alpn: [] };
  try {
    let at = 4 + 2 + 32;
    at += 1 + hello[at]!;
    at += 2 + hello.readUInt16BE(at);
    at += 1 + hello[at]!;
    const end = at + 2 + hello.readUInt16BE(at);
    at += 2;
    while (at + 4 <= end) {
      const type = hello.readUInt16BE(at);
      const len = hello.readUInt16BE(at + 2);
      if (type === 0x0010) return { transport: 'tls', alpn: alpnList(hello.subarray(at + 4, at + 4 + len)) };
      at += 4 + len;
    }
  } catch {
    // A truncated hello: TLS without an ALPN Envoy could read.
  }
  return { transport: 'tls', alpn: [] };
}

function alpnList(ext: Buffer): string[] {
  const out: string[] = [];
  for (let at = 2; at < ext.length; at += 1 + ext[at]!) out.push(ext.subarray(at + 1, at + 1 + ext[at]!).toString('latin1'));
  return out;
}
