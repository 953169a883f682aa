import { isIP } from 'node:net';
import { APP_PROBES_ENV } from '../common/app-probes-env.js';
import { formatDuration, parseDuration } from '../common/duration.js';
import { createLogger } from '../common/log.js';
import { resolveLogOptions, type LogOptions } from '../common/log-options.js';
import { POD_ENV } from '../common/pod-contract.js';
import { validateNamespace, validateServiceAccount, validateTrustDomain } from '../pki/spiffe.js';
import { startAgent, fetchOnce } from '../agent/agent.js';
import { AGENT_DEFAULTS, type AgentConfig } from '../agent/config.js';
import { renewalPolicyForGraceRatio, type RenewalPolicy } from '../agent/rotation.js';
import { MIN_CERT_TTL_MS } from '../ca/ttl.js';
import { AGENT_FLAGS, AGENT_USAGE } from './agent-flags.js';
import { parseTable, UsageError } from './flags.js';

export { AGENT_USAGE };

/** Flags and env into a validated AgentConfig; every wrong value is reported at once, each on its own line. */
export function parseAgentConfig(argv: string[], env: NodeJS.ProcessEnv, isTty = false): { config: AgentConfig; once: boolean; log: LogOptions } | { help: true } {
  const v = parseTable(argv, AGENT_FLAGS, 'agent');
  if (v.help) return { help: true };
  const problems: string[] = [];
  const check = <T>(fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch (err) {
      problems.push((err as Error).message);
      return fallback;
    }
  };
  const caUrl = check(() => caUrlOf(v['ca-addr'] ?? env[POD_ENV.caAddr]), '');
  const namespace = check(() => validateNamespace(required(v.namespace ?? env[POD_ENV.namespace], `--namespace (or ${POD_ENV.namespace})`)), '');
  const serviceAccount = check(() => validateServiceAccount(required(v['service-account'] ?? env[POD_ENV.serviceAccount], `--service-account (or ${POD_ENV.serviceAccount})`)), '');
  const trustDomain = check(() => validateTrustDomain(v['trust-domain'] ?? env[POD_ENV.trustDomain] ?? AGENT_DEFAULTS.trustDomain), '');
  const certTtlSeconds = check(() => ttlOf(v['cert-ttl']), undefined);
  const renewal = check(() => renewalOf(v['grace-period-ratio'] ?? env[POD_ENV.graceRatio]), undefined);
  const onceTimeoutMs = check(() => onceTimeoutOf(v['once-timeout'] ?? AGENT_DEFAULTS.onceTimeout), 0);
  const bundlePollMs = check(() => bundlePollOf(v['bundle-poll-interval']), AGENT_DEFAULTS.bundlePollMs);
  const podIps = check(() => podIpsOf(env[POD_ENV.podIps]), []);
  const podName = check(() => podNameOf(v['pod-name'] ?? env[POD_ENV.podName]), undefined);
  const statusPort = check(() => portOf(v['status-port'], AGENT_DEFAULTS.statusPort, '--status-port'), 0);
  const healthPort = check(() => portOf(v['health-port'], AGENT_DEFAULTS.healthPort, '--health-port'), 0);
  const log = check(() => resolveLogOptions(v, env, isTty), { level: 'info', format: 'json' } as LogOptions);
  if (v['once-timeout'] !== undefined && !v.once) problems.push('--once-timeout only applies with --once');
  if (v.once && !v['out-dir']) problems.push('--once needs --out-dir: it writes the SVID there and exits');
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return {
    once: v.once === true,
    log,
    config: {
      caUrl, namespace, serviceAccount, trustDomain, certTtlSeconds, statusPort, healthPort, podIps, onceTimeoutMs,
      caRootFile: v['ca-root'] ?? AGENT_DEFAULTS.caRootFile,
      tokenFile: v['token-file'] ?? AGENT_DEFAULTS.tokenFile,
      keyAlgorithm: AGENT_DEFAULTS.keyAlgorithm,
      outDir: v['out-dir'],
      sdsSocket: v['sds-socket'] ?? AGENT_DEFAULTS.sdsSocket,
      workloadSocket: v['workload-socket'] ?? AGENT_DEFAULTS.workloadSocket,
      listenHost: AGENT_DEFAULTS.listenHost,
      appProbesJson: env[APP_PROBES_ENV],
      envoyBinary: v['envoy-binary'] ?? env[POD_ENV.envoyBinary],
      envoyConfigPath: v['envoy-config'] ?? AGENT_DEFAULTS.envoyConfigPath,
      bundlePollMs,
      renewal, podName,
    },
  };
}

/** `meshid agent …`: returns the exit status. Long-running mode resolves only after SIGTERM/SIGINT. */
export async function runAgentCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed: ReturnType<typeof parseAgentConfig>;
  try {
    parsed = parseAgentConfig(argv, env, process.stderr.isTTY === true);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    process.stderr.write(`meshid agent: ${(err as Error).message.replaceAll('\n', '\nmeshid agent: ')}\n`);
    return 2;
  }
  if ('help' in parsed) {
    process.stdout.write(AGENT_USAGE);
    return 0;
  }
  const logger = createLogger({ name: 'meshid-agent', ...parsed.log });
  try {
    if (parsed.once) {
      const svid = await fetchOnce(parsed.config, { logger });
      logger.info({ spiffeId: svid.spiffeId, outDir: parsed.config.outDir, notAfter: new Date(svid.notAfter).toISOString() }, 'SVID written');
      return 0;
    }
    const agent = await startAgent(parsed.config, { logger });
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    await agent.stop();
    return 0;
  } catch (err) {
    process.stderr.write(`meshid agent: ${(err as Error).message}\n`);
    return 1;
  }
}

function required(value: string | undefined, what: string): string {
  if (!value) throw new Error(`${what} is required`);
  return value;
}

function caUrlOf(value: string | undefined): string {
  const addr = required(value, '--ca-addr (or CA_ADDR)');
  const withScheme = /^[a-z]+:\/\//i.test(addr) ? addr : `https://${addr}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(`--ca-addr "${addr.slice(0, 64)}" is not an address; write it like meshid.meshid-system.svc:15012 or https://host:port`);
  }
  if (url.protocol !== 'https:') throw new Error(`--ca-addr "${addr.slice(0, 64)}" must use https: the CA is only spoken to over TLS`);
  return url.origin;
}

function ttlOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value, '--cert-ttl');
  if (ms < MIN_CERT_TTL_MS) throw new Error(`--cert-ttl "${value}" is below the minimum of ${formatDuration(MIN_CERT_TTL_MS)}`);
  if (ms % 1000 !== 0) throw new Error(`--cert-ttl "${value}" must be whole seconds`);
  return ms / 1000;
}

function onceTimeoutOf(value: string): number {
  const ms = parseDuration(value, '--once-timeout');
  if (ms < 100) throw new Error(`--once-timeout "${value}" must be at least 100ms`);
  return ms;
}

function bundlePollOf(value: string | undefined): number {
  if (value === undefined) return AGENT_DEFAULTS.bundlePollMs;
  const ms = parseDuration(value, '--bundle-poll-interval');
  if (ms < 100 || ms > 3_600_000) throw new Error(`--bundle-poll-interval "${value}" must be between 100ms and 1h`);
  return ms;
}

function podNameOf(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (value.length > 253 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(value)) throw new Error(`--pod-name (or ${POD_ENV.podName}) "${value.slice(0, 64)}" is not a Kubernetes pod name`);
  return value;
}

/** Downward API status.podIPs: comma-separated, IPv4 and/or IPv6. */
function podIpsOf(value: string | undefined): string[] {
  const ips = (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const bad = ips.find((ip) => isIP(ip) === 0);
  if (bad !== undefined) throw new Error(`${POD_ENV.podIps} "${bad.slice(0, 64)}" is not an IP address; it is a comma-separated list like 10.1.2.3,fd00::3`);
  return ips;
}

function renewalOf(value: string | undefined): RenewalPolicy | undefined {
  if (value === undefined) return undefined;
  const ratio = /^\d*\.?\d+$/.test(value) ? Number(value) : NaN;
  if (!(ratio > 0 && ratio < 1)) throw new Error(`--grace-period-ratio (or ${POD_ENV.graceRatio}) "${value.slice(0, 32)}" must be a number between 0 and 1, e.g. 0.5`);
  return renewalPolicyForGraceRatio(ratio);
}

function portOf(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new Error(`${flag} "${value.slice(0, 32)}" must be a port number from 0 to 65535`);
  return Number(value);
}
