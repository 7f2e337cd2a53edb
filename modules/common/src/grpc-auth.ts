/** Bearer tokens on gRPC: metadata `authorization: Bearer <token>`, mapped to gRPC status codes. */
import { InterceptingCall, Metadata, status, type Interceptor, type ServerErrorResponse } from '@grpc/grpc-js';
import { AuthError, AuthUnavailableError, ForbiddenError, type Principal, type TokenVerifier } from './auth';

/** A gRPC status as an Error, so it can be thrown; a handler's callback takes it as is (grpc-js reads `code` and `details`). */
export class GrpcStatusError extends Error implements ServerErrorResponse {
  constructor(
    readonly code: status,
    readonly details: string,
  ) {
    super(details);
    this.name = 'GrpcStatusError';
  }
}

/** A gRPC error for a refused caller: UNAUTHENTICATED (no or bad token) or PERMISSION_DENIED. */
export function grpcAuthError(err: AuthError | ForbiddenError): GrpcStatusError {
  return new GrpcStatusError(err instanceof AuthError ? status.UNAUTHENTICATED : status.PERMISSION_DENIED, err.message);
}

/**
 * The caller of a gRPC call. Throws a ready-to-send gRPC error when the metadata carries no valid
 * token (UNAUTHENTICATED) or tokens cannot be checked yet (UNAVAILABLE); anything else (a bug) is
 * rethrown as is.
 */
export async function grpcPrincipal(verifier: TokenVerifier, metadata: Metadata): Promise<Principal> {
  const values = metadata.get('authorization');
  if (values.length > 1) throw grpcAuthError(new AuthError('malformed', 'send one authorization metadata entry'));
  try {
    return await verifier.verifyAuthorization(typeof values[0] === 'string' ? values[0] : undefined);
  } catch (err) {
    if (err instanceof AuthError) throw grpcAuthError(err);
    if (err instanceof AuthUnavailableError) throw new GrpcStatusError(status.UNAVAILABLE, err.message);
    throw err;
  }
}

/** Client side: metadata carrying a bearer token. */
export function bearerMetadata(token: string): Metadata {
  const md = new Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}

/**
 * A client interceptor adding `authorization: Bearer <token>` to every call of a client, for
 * callers that use one token throughout (devices, the simulator, tests): pass it in the client
 * options, `{ interceptors: [bearerInterceptor(token)] }`. Works over plaintext too, unlike
 * call credentials, which grpc-js sends only over TLS.
 */
export function bearerInterceptor(token: string | (() => string)): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('authorization', `Bearer ${typeof token === 'function' ? token() : token}`);
        next(metadata, listener);
      },
    });
}
