/** person-api's side of the internal gRPC call to connection-service. */
import * as grpc from '@grpc/grpc-js';
import { ConnectionServiceClient, ConnectionServiceDefinition, type FindConnectionsRequest, type FindConnectionsResponse } from '@udaconnect/proto';
import { HttpProblem, notFound, serviceUnavailable, badRequest, grpcClientSpan, keyedConcurrency } from '@udaconnect/common';

/** udaconnect.connection.v1.ConnectionService/FindConnections, the span's name. */
const FIND_CONNECTIONS = ConnectionServiceDefinition.findConnections.path.slice(1);

/** How many connection queries one REST caller may have running at once, and after how long to retry. */
export class TooManyQueries extends HttpProblem {
  constructor(
    detail: string,
    readonly retryAfterSeconds = 1,
  ) {
    super(429, 'Too Many Requests', detail);
  }
}

interface Caller {
  /**
   * The REST caller's own header, forwarded so connection-service applies the same rules;
   * without one (a legacy anonymous read) person-api's service token is sent.
   */
  authorization?: string | undefined;
  /** Who the per-caller concurrency limit counts against: the token's subject, or `ip:<address>` when anonymous. */
  key?: string;
  /** Aborted when the REST client went away (or the answer is no longer needed): the gRPC call, and so its SQL, is cancelled. */
  signal?: AbortSignal;
}

export interface ConnectionFinder {
  /** Rejects with an HttpProblem: TooManyQueries (429) when `caller.key` already runs its maximum. */
  find(request: FindConnectionsRequest, caller: Caller): Promise<FindConnectionsResponse>;
  /** True when the service answers its health check in time. */
  isReachable(): Promise<boolean>;
  close(): void;
}

export interface ConnectionClientOptions {
  /** A little longer than connection-service's statement timeout (10 s), so its own "took too long" answer arrives rather than our deadline. */
  timeoutMs?: number;
  /** Connection queries one caller (`Caller.key`) may have running at once (CONNECTION_QUERIES_PER_CALLER). */
  perCaller?: number;
}

export function connectionServiceClient(
  address: string,
  serviceToken: () => Promise<string>,
  { timeoutMs = 12_000, perCaller = 2 }: ConnectionClientOptions = {},
): ConnectionFinder {
  // An unpaged answer may hold up to 10,000 connections (a few MB): allow large responses.
  const client = new ConnectionServiceClient(address, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
  });
  const running = keyedConcurrency(perCaller);
  return {
    async find(request, caller) {
      const release = caller.key === undefined ? () => undefined : running.tryAcquire(caller.key);
      if (!release) throw new TooManyQueries(`this caller already has ${perCaller} connection queries running; wait for one to finish`);
      try {
        const metadata = new grpc.Metadata();
        metadata.set('authorization', caller.authorization ?? `Bearer ${await serviceToken()}`);
        // A CLIENT span in the request's trace; its context goes along in the metadata.
        const span = grpcClientSpan(FIND_CONNECTIONS, metadata);
        return await new Promise<FindConnectionsResponse>((resolve, reject) => {
          const call = client.findConnections(request, metadata, { deadline: Date.now() + timeoutMs }, (err, res) => {
            caller.signal?.removeEventListener('abort', cancel);
            span.end(err);
            if (err) reject(toProblem(err));
            else resolve(res);
          });
          // CANCELLED reaches connection-service, which cancels the SQL (pg_cancel_backend).
          const cancel = () => call.cancel();
          if (caller.signal?.aborted) cancel();
          else caller.signal?.addEventListener('abort', cancel, { once: true });
        });
      } finally {
        release();
      }
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
      // The REST names of the paging fields.
      const details = err.details.replace(/^page_token:/, 'cursor:').replace(/^page_size:/, 'limit:');
      const field = /^(\w+):/.exec(details)?.[1] ?? 'query';
      return badRequest(details, [{ field, message: details }]);
    }
    case grpc.status.FAILED_PRECONDITION:
      // The cost guard: the query would be too much work, or the unpaged answer too large.
      return badRequest(`The query is too large: ${err.details}`, [{ field: 'query', message: err.details }]);
    case grpc.status.DEADLINE_EXCEEDED:
      return serviceUnavailable(err.details && !/deadline/i.test(err.details) ? err.details : 'connection-service did not answer in time; try again');
    case grpc.status.PERMISSION_DENIED:
      return new HttpProblem(403, 'Forbidden', err.details);
    case grpc.status.UNAUTHENTICATED:
      // The caller's token passed our own check; connection-service refusing it means the key
      // sets or revocation lists disagree for a moment. Not the caller's fault to fix.
      return serviceUnavailable('connection-service did not accept the credentials; try again shortly');
    case grpc.status.RESOURCE_EXHAUSTED:
      // Our own receive limit (a message over 64 MiB), or connection-service's per-caller limit.
      if (/larger than max/i.test(err.details)) {
        return badRequest('The result is too large; page it (limit) or narrow the date range or the distance', [
          { field: 'query', message: 'result too large' },
        ]);
      }
      return new TooManyQueries(err.details);
    default:
      return serviceUnavailable(`connection-service is unavailable (${grpc.status[err.code] ?? err.code}); the rest of the API still works`);
  }
}
