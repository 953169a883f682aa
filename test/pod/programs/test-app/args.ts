import { parseArgs } from 'node:util';

export interface AppOptions {
  name: string;
  httpPort?: number;
  tcpPort?: number;
  grpcPort?: number;
  exitAfterMs?: number;
  exitCode: number;
}

export const USAGE = 'usage: test-app [--http-port N] [--tcp-port N] [--grpc-port N] [--name NAME] [--exit-after MS [--exit-code N]]';

/** Flags into options; every wrong value is reported, each on its own line. */
export function parseAppArgs(argv: string[]): AppOptions {
  let v: Record<string, string | undefined>;
  try {
    v = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: { 'http-port': { type: 'string' }, 'tcp-port': { type: 'string' }, 'grpc-port': { type: 'string' }, name: { type: 'string' }, 'exit-after': { type: 'string' }, 'exit-code': { type: 'string' } },
    }).values;
  } catch (err) {
    throw new Error(`${(err as Error).message.split('\n')[0]}\n${USAGE}`);
  }
  const problems: string[] = [];
  const num = (flag: string, min: number, max: number, what: string): number | undefined => {
    const raw = v[flag];
    if (raw === undefined) return undefined;
    if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) problems.push(`--${flag} "${raw.slice(0, 32)}" must be ${what} from ${min} to ${max}`);
    return Number(raw);
  };
  const options: AppOptions = {
    name: v.name ?? 'test-app',
    httpPort: num('http-port', 1, 65535, 'a port number'),
    tcpPort: num('tcp-port', 1, 65535, 'a port number'),
    grpcPort: num('grpc-port', 1, 65535, 'a port number'),
    exitAfterMs: num('exit-after', 0, 999_999_999, 'milliseconds'),
    exitCode: num('exit-code', 0, 255, 'an exit status') ?? 0,
  };
  if (v['exit-code'] !== undefined && v['exit-after'] === undefined) problems.push('--exit-code needs --exit-after: the app exits on its own only then');
  if (!/^[\w.-]{1,63}$/.test(options.name)) problems.push(`--name "${options.name.slice(0, 32)}" must be 1 to 63 letters, digits, '.', '_' or '-'`);
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return options;
}
