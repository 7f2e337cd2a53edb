/** person-api's side of the internal gRPC call to connection-service. */
import * as grpc from '@grpc/grpc-js';
import { ConnectionServiceClient, ConnectionServiceDefinition, type FindConnectionsRequest, type FindConnectionsResponse } from '@udaconnect/proto';
import { HttpProblem, notFound, serviceUnavailable, badRequest, grpcClientSpan } from '@udaconnect/common';

/** udaconnect.connection.v1.ConnectionService/FindConnections, the span's name. */
const FIND_CONNECTIONS = ConnectionServiceDefinition.findConnections.path.slice(1);

export interface ConnectionFinder {
  /**
   * `authorization` is the REST caller's own header, forwarded so connection-service applies the
   * same rules; without one (a legacy anonymous read) person-api's service token is sent.
   */
  find(request: FindConnectionsRequest, caller: { authorization?: string }): Promise<FindConnectionsResponse>;
  /** True when the service answers its health check in time. */
  isReachable(): Promise<boolean>;
  close(): void;
}

// A little longer than connection-service's statement timeout (10 s), so its own
// "took too long" answer arrives rather than our deadline.
export function connectionServiceClient(address: string, serviceToken: () => Promise<string>, timeoutMs = 12_000): ConnectionFinder {
  // Busy ranges can return tens of thousands of connections: allow large responses.
  const client = new ConnectionServiceClient(address, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 256 * 1024 * 1024,
  });
  return {
    async find(request, caller) {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', caller.authorization ?? `Bearer ${await serviceToken()}`);
      // A CLIENT span in the request's trace; its context goes along in the metadata.
      const span = grpcClientSpan(FIND_CONNECTIONS, metadata);
      return new Promise((resolve, reject) => {
        client.findConnections(request, metadata, { deadline: Date.now() + timeoutMs }, (err, res) => {
          span.end(err);
          if (err) reject(toProblem(err));
          else resolve(res);
        });
      });
    },
    isReachable() {
      return new Promise((resolve) => client.waitForReady(Date.now() + 1_000, (err) => resolve(!err)));
    },
    close: () => client.close(),
  };
}

/** gRPC status → the REST problem a client of person-api should see. */
function toProblem(err: grpc.ServiceError): HttpProblem {
  switch (err.code) {
    case grpc.status.NOT_FOUND:
      return notFound(err.details);
    case grpc.status.INVALID_ARGUMENT: {
      const field = /^(\w+):/.exec(err.details)?.[1] ?? 'query';
      return badRequest(err.details, [{ field, message: err.details }]);
    }
    case grpc.status.DEADLINE_EXCEEDED:
      return serviceUnavailable(err.details && !/deadline/i.test(err.details) ? err.details : 'connection-service did not answer in time; try again');
    case grpc.status.PERMISSION_DENIED:
      return new HttpProblem(403, 'Forbidden', err.details);
    case grpc.status.UNAUTHENTICATED:
      // The caller's token passed our own check; connection-service refusing it means the key
      // sets or revocation lists disagree for a moment. Not the caller's fault to fix.
      return serviceUnavailable('connection-service did not accept the credentials; try again shortly');
    case grpc.status.RESOURCE_EXHAUSTED:
      return badRequest('The result is too large; narrow the date range or the distance', [{ field: 'query', message: 'result too large' }]);
    default:
      return serviceUnavailable(`connection-service is unavailable (${grpc.status[err.code] ?? err.code}); the rest of the API still works`);
  }
}
