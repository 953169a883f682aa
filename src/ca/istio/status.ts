import { status } from '@grpc/grpc-js';
import { isMeshidError } from '../../common/errors.js';

export interface GrpcRefusal {
  code: status;
  details: string;
  /** The metrics label and audit result: the MeshidError code. */
  result: string;
}

/** The REST API's HTTP statuses, in gRPC's words (the mapping gRPC's own HTTP guide gives). */
const CODE_FOR_HTTP: Record<number, status> = {
  400: status.INVALID_ARGUMENT,
  401: status.UNAUTHENTICATED,
  403: status.PERMISSION_DENIED,
  413: status.RESOURCE_EXHAUSTED,
  503: status.UNAVAILABLE,
};

/** Any error from serving a call as the status sent back; only MeshidErrors' messages, which are safe to show, leave the server. */
export function grpcRefusal(err: unknown): GrpcRefusal {
  if (isMeshidError(err)) {
    const code = CODE_FOR_HTTP[err.status];
    if (code !== undefined) return { code, details: `${err.code}: ${err.message}`, result: err.code };
  }
  return { code: status.INTERNAL, details: 'internal_error: the CA failed to handle the request; see its logs', result: 'internal_error' };
}
