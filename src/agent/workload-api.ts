import * as grpc from '@grpc/grpc-js';
import { isMeshidError } from '../common/errors.js';
import { MAX_AUDIENCE_LENGTH, MAX_AUDIENCES } from '../common/jwt-svid-api.js';
import type { Logger } from '../common/log.js';
import { CaError } from './ca-client.js';
import { JwtSvidRefused } from './jwt-validate.js';
import { toStruct } from './proto-struct.js';
import { PushStream } from './push-stream.js';
import type { SvidStore } from './svid-store.js';
import { bindUnixSocket, closeUnixServer } from './uds-bind.js';
import type { WorkloadJwt } from './workload-jwt.js';
import { workloadService, type JwtSvidRequest, type JwtSvidResponse, type ValidateJwtSvidRequest, type ValidateJwtSvidResponse } from './workload-protos.js';
import { X509Messages, type Versioned } from './workload-x509.js';

/** The SSRF guard every Workload API call must carry (SPIFFE Workload Endpoint, "Transport"). */
export const WORKLOAD_HEADER = 'workload.spiffe.io';

/** Open streams beyond this are shed with UNAVAILABLE, which SPIFFE clients retry with a backoff. */
export const MAX_STREAMS = 512;

/** Why a call lacks the header, or null: the value must be exactly "true" (case sensitive). */
export function headerProblem(md: grpc.Metadata): string | null {
  const values = md.get(WORKLOAD_HEADER);
  if (values.length === 0) return `the "${WORKLOAD_HEADER}: true" metadata is required on every SPIFFE Workload API call`;
  if (values.length !== 1 || values[0] !== 'true') return `the "${WORKLOAD_HEADER}" metadata must be exactly "true"`;
  return null;
}

/** Why a FetchJWTSVID request cannot be served, or null. */
export function audienceProblem(audience: string[] | undefined): string | null {
  if (!audience || audience.length === 0) return 'audience is required: name at least one audience for the JWT-SVID';
  if (audience.length > MAX_AUDIENCES) return `at most ${MAX_AUDIENCES} audiences per JWT-SVID`;
  if (audience.some((a) => a.length === 0 || a.length > MAX_AUDIENCE_LENGTH)) return `each audience must be 1 to ${MAX_AUDIENCE_LENGTH} characters`;
  return null;
}

export interface WorkloadApiOptions {
  socketPath: string;
  store: SvidStore;
  spiffeId: string;
  trustDomain: string;
  jwt: WorkloadJwt;
  logger: Logger;
}

type Status = Partial<grpc.StatusObject>;
const status = (code: grpc.status, details: string): Status => ({ code, details });

/**
 * The SPIFFE Workload API (FetchX509SVID, FetchX509Bundles, FetchJWTSVID, FetchJWTBundles,
 * ValidateJWTSVID) on a Unix socket that every container of the pod may open: the pod boundary is
 * what authenticates a caller, so every caller gets this pod's identity. Each stream gets the full
 * current state at once and again on every SVID rotation and bundle change.
 */
export class WorkloadApiServer {
  private readonly streams = new Set<PushStream<unknown>>();
  private readonly x509: X509Messages;
  private readonly pushAll = (): void => {
    for (const s of this.streams) s.push();
  };

  private constructor(private readonly server: grpc.Server, readonly socketPath: string, private readonly o: WorkloadApiOptions) {
    this.x509 = new X509Messages(o.store, `spiffe://${o.trustDomain}`);
    o.store.on('change', this.pushAll);
    o.jwt.onBundleChange(this.pushAll);
  }

  static async start(o: WorkloadApiOptions): Promise<WorkloadApiServer> {
    // Requests are a few audiences or one token: anything larger is refused before it is decoded.
    const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 });
    const api = new WorkloadApiServer(server, o.socketPath, o);
    server.addService(workloadService(), {
      FetchX509SVID: (call: grpc.ServerWritableStream<unknown, unknown>) => api.stream(call, () => api.x509.svid(), 'no X.509-SVID yet: the agent is still getting it from the CA; retry shortly'),
      FetchX509Bundles: (call: grpc.ServerWritableStream<unknown, unknown>) => api.stream(call, () => api.x509.bundles(), 'no trust bundle yet; retry shortly'),
      FetchJWTBundles: (call: grpc.ServerWritableStream<unknown, unknown>) => void api.jwtBundles(call),
      FetchJWTSVID: (call: grpc.ServerUnaryCall<JwtSvidRequest, JwtSvidResponse>, cb: grpc.sendUnaryData<JwtSvidResponse>) => void api.unary(call, cb, () => api.jwtSvid(call.request)),
      ValidateJWTSVID: (call: grpc.ServerUnaryCall<ValidateJwtSvidRequest, ValidateJwtSvidResponse>, cb: grpc.sendUnaryData<ValidateJwtSvidResponse>) => void api.unary(call, cb, () => api.validate(call.request)),
    });
    try {
      // Open to every uid of the pod: app containers run as users of their own.
      await bindUnixSocket(server, o.socketPath, 0o666);
    } catch (err) {
      api.detach();
      server.forceShutdown();
      throw err;
    }
    o.logger.info({ socket: o.socketPath }, 'SPIFFE Workload API listening');
    return api;
  }

  get streamCount(): number {
    return this.streams.size;
  }

  async close(): Promise<void> {
    this.detach();
    await closeUnixServer(this.server, this.socketPath, this.streams);
  }

  private detach(): void {
    this.o.store.off('change', this.pushAll);
    this.o.jwt.offBundleChange(this.pushAll);
  }

  /** Opens a push stream, or ends the call with why it cannot be served; null when it was ended. */
  private open(call: grpc.ServerWritableStream<unknown, unknown>, current: () => Versioned<unknown> | null): PushStream<unknown> | null {
    const s = new PushStream(call, current);
    const problem = headerProblem(call.metadata);
    if (problem) s.fail(grpc.status.INVALID_ARGUMENT, problem);
    else if (this.streams.size >= MAX_STREAMS) s.fail(grpc.status.UNAVAILABLE, `the agent already serves ${MAX_STREAMS} Workload API streams; retry later`);
    else {
      this.streams.add(s);
      s.onClose(() => this.streams.delete(s));
      return s;
    }
    return null;
  }

  private stream(call: grpc.ServerWritableStream<unknown, unknown>, current: () => Versioned<unknown> | null, unavailable: string): void {
    const s = this.open(call, current);
    if (!s) return;
    if (!current()) s.fail(grpc.status.UNAVAILABLE, unavailable);
    else s.push();
  }

  private async jwtBundles(call: grpc.ServerWritableStream<unknown, unknown>): Promise<void> {
    const s = this.open(call, () => this.o.jwt.bundles());
    if (!s) return;
    try {
      await this.o.jwt.ensureBundles();
      s.push();
    } catch (err) {
      s.fail(grpc.status.UNAVAILABLE, `no JWT bundle: ${(err as Error).message}`);
    }
  }

  private async unary<T>(call: grpc.ServerUnaryCall<unknown, T>, cb: grpc.sendUnaryData<T>, serve: () => Promise<T>): Promise<void> {
    const problem = headerProblem(call.metadata);
    if (problem) return cb(status(grpc.status.INVALID_ARGUMENT, problem));
    try {
      cb(null, await serve());
    } catch (err) {
      cb(this.refusal(err));
    }
  }

  private async jwtSvid(req: JwtSvidRequest): Promise<JwtSvidResponse> {
    const problem = audienceProblem(req.audience);
    if (problem) throw new JwtSvidRefused(problem);
    if (req.spiffe_id && req.spiffe_id !== this.o.spiffeId) throw new PermissionDenied(`this pod holds ${this.o.spiffeId} only, not ${req.spiffe_id.slice(0, 200)}`);
    const grant = await this.o.jwt.svid(req.audience!);
    return { svids: [{ spiffe_id: grant.spiffeId, svid: grant.token }] };
  }

  private async validate(req: ValidateJwtSvidRequest): Promise<ValidateJwtSvidResponse> {
    if (!req.audience) throw new JwtSvidRefused('audience is required: the audience the JWT-SVID must be for');
    if (!req.svid) throw new JwtSvidRefused('svid is required: the JWT-SVID to validate');
    const { spiffeId, claims } = await this.o.jwt.validate(req.svid, req.audience);
    return { spiffe_id: spiffeId, claims: toStruct(claims) };
  }

  /** The status for a failed unary call: the caller's mistake, the CA's refusal, or the CA not answering. */
  private refusal(err: unknown): Status {
    if (err instanceof JwtSvidRefused) return status(grpc.status.INVALID_ARGUMENT, err.message);
    if (err instanceof PermissionDenied) return status(grpc.status.PERMISSION_DENIED, err.message);
    if (err instanceof CaError && !err.transient) return status(grpc.status.PERMISSION_DENIED, err.message);
    if (isMeshidError(err)) return status(grpc.status.UNAVAILABLE, err.message);
    this.o.logger.error({ err: (err as Error).message }, 'Workload API call failed');
    return status(grpc.status.INTERNAL, 'the agent failed to serve this call; see its log');
  }
}

class PermissionDenied extends Error {}
