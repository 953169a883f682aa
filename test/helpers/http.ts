import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = any>(): T;
}

/** A real HTTP(S) request; `ca` pins the trust bundle the way a workload would. */
export function send(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: string | Buffer; ca?: string | string[]; agent?: any } = {},
): Promise<Response> {
  const u = new URL(url);
  const fn = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = fn(u, { method: o.method ?? 'GET', headers: o.headers, ca: o.ca, agent: o.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

export function postJson(url: string, body: unknown, o: { token?: string; ca?: string | string[]; headers?: Record<string, string> } = {}): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...o.headers };
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
  return send(url, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body), ca: o.ca });
}
