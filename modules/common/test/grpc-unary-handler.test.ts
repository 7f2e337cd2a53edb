/**
 * unaryHandler: grpc-js ignores the promise an async handler returns, so a handler that rejects
 * would leave an unhandled rejection (which ends the process). The wrapper logs it and answers
 * INTERNAL, once.
 */
import { status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { createLogger } from '../src/logger';
import { unaryHandler } from '../src/grpc-server';
import { grpcAuthError } from '../src/grpc-auth';
import { AuthError, ForbiddenError } from '../src/auth';

type Answer = Parameters<sendUnaryData<string>>;

/** Runs `handler` once with a fake call; resolves with every answer it sent and what was logged. */
async function run(handler: (call: ServerUnaryCall<string, string>, callback: sendUnaryData<string>) => Promise<void>) {
  const logger = createLogger('unary-handler-test', 'silent');
  const errors = jest.spyOn(logger, 'error');
  const answers: Answer[] = [];
  unaryHandler(logger, handler)({ request: 'hi' } as ServerUnaryCall<string, string>, (...args: Answer) => void answers.push(args));
  await new Promise((resolve) => setImmediate(resolve));
  return { answers, logged: errors.mock.calls.length };
}

test('passes the handler’s own answer through, success or error', async () => {
  expect(await run(async (call, callback) => callback(null, `${call.request}!`))).toEqual({ answers: [[null, 'hi!']], logged: 0 });
  const refused = await run(async (_call, callback) => callback({ code: status.NOT_FOUND, details: 'no such thing' }));
  expect(refused).toEqual({ answers: [[{ code: status.NOT_FOUND, details: 'no such thing' }]], logged: 0 });
});

test('a handler that throws before answering is logged and answered INTERNAL', async () => {
  const r = await run(async () => {
    throw new Error('a bug');
  });
  expect(r).toEqual({ answers: [[{ code: status.INTERNAL, details: 'internal error' }]], logged: 1 });
});

test('a handler that throws after answering is logged, and not answered twice', async () => {
  const r = await run(async (_call, callback) => {
    callback(null, 'done');
    throw new Error('a bug after the answer');
  });
  expect(r).toEqual({ answers: [[null, 'done']], logged: 1 });
});

test('grpcAuthError is an Error carrying the gRPC status grpc-js sends', () => {
  const unauthenticated = grpcAuthError(new AuthError('invalid', 'bad token'));
  expect(unauthenticated).toBeInstanceOf(Error);
  expect({ code: unauthenticated.code, details: unauthenticated.details }).toEqual({ code: status.UNAUTHENTICATED, details: 'bad token' });
  const forbidden = grpcAuthError(new ForbiddenError('not yours'));
  expect({ code: forbidden.code, details: forbidden.details }).toEqual({ code: status.PERMISSION_DENIED, details: 'not yours' });
});
