import * as grpc from '@grpc/grpc-js';

/** grpc.health.v1.HealthCheckResponse.ServingStatus values. */
const SERVING = 1;
const NOT_SERVING = 2;

/**
 * grpc.health.v1.Health/Check, encoded by hand: the response is one varint field (1: status), so no .proto
 * is needed. Every service name gets the app's one status, as the kubelet's gRPC probe asks for "".
 */
const HEALTH: grpc.ServiceDefinition = {
  Check: {
    path: '/grpc.health.v1.Health/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (status: number) => Buffer.from([0x08, status]),
    responseDeserialize: (b: Buffer) => b,
  },
};

export async function startGrpcHealth(port: number, healthy: () => boolean): Promise<grpc.Server> {
  const server = new grpc.Server();
  server.addService(HEALTH, {
    Check: (_call: grpc.ServerUnaryCall<Buffer, number>, cb: grpc.sendUnaryData<number>) => cb(null, healthy() ? SERVING : NOT_SERVING),
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`[::]:${port}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(new Error(`cannot listen on gRPC port ${port}: ${err.message}`)) : resolve())),
  );
  return server;
}
