/**
 * The ConnectionService gRPC handler: validate the request, run the proximity query, map the
 * result or the error to a gRPC status. person-api validates the REST parameters first; the
 * checks here are the service's own contract, so any other caller gets the same answers.
 */
import { status, type ServerErrorResponse } from '@grpc/grpc-js';
import { z } from 'zod';
import {
  ForbiddenError,
  grpcAuthError,
  grpcPrincipal,
  isDatabaseUnavailable,
  mayActFor,
  tracedQuery,
  unaryHandler,
  type Knex,
  type Logger,
  type TokenVerifier,
} from '@udaconnect/common';
import { GroupBy, type ConnectionServiceServer, type FindConnectionsRequest, type FindConnectionsResponse } from '@udaconnect/proto';
import { findConnections, type ConnectionQuery } from './connection-query';

const MAX_DISTANCE_METERS = 10_000;
/** 366 days (a leap year, both ends included) plus a day of slack for callers' time zones. */
const MAX_SPAN_DAYS = 367;
const DAY_MS = 86_400_000;

/** Keys are the proto field names, so every message names the field as the caller wrote it. */
const requestSchema = z
  .object({
    person_id: z.number().int().positive('must be a positive integer'),
    start: z.date({ error: 'is required (a valid timestamp)' }),
    end: z.date({ error: 'is required (a valid timestamp)' }),
    distance_meters: z
      .number({ error: 'must be a finite number of meters' })
      .gt(0, 'must be greater than 0')
      .max(MAX_DISTANCE_METERS, `must be at most ${MAX_DISTANCE_METERS} meters`),
    time_window_minutes: z.number().int().min(0, 'must not be negative').optional(),
    group_by: z.union([z.literal(GroupBy.GROUP_BY_UNSPECIFIED), z.literal(GroupBy.GROUP_BY_PERSON)], {
      error: 'must be GROUP_BY_UNSPECIFIED or GROUP_BY_PERSON',
    }),
    with_closest: z.boolean(),
  })
  .superRefine((r, ctx) => {
    const span = r.end.getTime() - r.start.getTime();
    if (span <= 0) ctx.addIssue({ code: 'custom', path: ['end'], message: 'must be after start' });
    else if (span > MAX_SPAN_DAYS * DAY_MS) ctx.addIssue({ code: 'custom', path: ['end'], message: `the range may span at most ${MAX_SPAN_DAYS} days` });
  });

/** The request as a query, or a message naming each bad field ("distance_meters: must be …"). */
function parseRequest(req: FindConnectionsRequest): { ok: true; query: ConnectionQuery } | { ok: false; message: string } {
  const parsed = requestSchema.safeParse({
    person_id: req.personId,
    start: req.start,
    end: req.end,
    distance_meters: req.distanceMeters,
    time_window_minutes: req.timeWindowMinutes,
    group_by: req.groupBy,
    with_closest: req.withClosest,
  });
  if (!parsed.success) {
    return { ok: false, message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  }
  const r = parsed.data;
  return {
    ok: true,
    query: {
      personId: r.person_id,
      start: r.start,
      end: r.end,
      distanceMeters: r.distance_meters,
      // The proto's rule: 0 or absent means no time window.
      timeWindowMinutes: r.time_window_minutes ? r.time_window_minutes : undefined,
      groupByPerson: r.group_by === GroupBy.GROUP_BY_PERSON,
      withClosest: r.with_closest,
    },
  };
}

export interface ConnectionHandlerDeps {
  knex: Knex;
  /** Reaching the port is not enough: every call carries a bearer token. */
  verifier: TokenVerifier;
  logger: Logger;
  statementTimeoutMs: number;
  /** Told when a call found the database unreachable, so health can follow at once. */
  onDatabaseUnavailable?: () => void;
}

const QUERY_CANCELED = '57014';

export function createConnectionHandlers({
  knex,
  verifier,
  logger,
  statementTimeoutMs,
  onDatabaseUnavailable,
}: ConnectionHandlerDeps): ConnectionServiceServer {
  const fail = (code: status, details: string): Partial<ServerErrorResponse> => ({ code, details });

  return {
    findConnections: unaryHandler<FindConnectionsRequest, FindConnectionsResponse>(logger, async (call, callback) => {
      let principal;
      try {
        principal = await grpcPrincipal(verifier, call.metadata);
      } catch (err) {
        return callback(err as Partial<ServerErrorResponse>);
      }
      const parsed = parseRequest(call.request);
      if (!parsed.ok) return callback(fail(status.INVALID_ARGUMENT, parsed.message));
      const q = parsed.query;
      // Organizers and person-api's service token ask for anyone; an attendee for themself.
      if (!mayActFor(principal, q.personId)) {
        return callback(grpcAuthError(new ForbiddenError(`this token may ask only for the connections of its own person, not ${q.personId}`)));
      }

      let result: Awaited<ReturnType<typeof findConnections>>;
      const started = Date.now();
      try {
        // A SQL span in the call's trace (common/src/tracing.ts): no query text, no values.
        result = await tracedQuery({ operation: 'SELECT', table: 'location' }, () => findConnections(knex, q));
      } catch (err) {
        if (isDatabaseUnavailable(err)) {
          onDatabaseUnavailable?.();
          logger.warn({ err: (err as Error).message }, 'database unavailable');
          return callback(fail(status.UNAVAILABLE, 'the database is unavailable; retry later'));
        }
        if ((err as { code?: string }).code === QUERY_CANCELED) {
          logger.warn({ query: q, statementTimeoutMs }, 'proximity query timed out');
          return callback(fail(status.DEADLINE_EXCEEDED, `the query took longer than ${statementTimeoutMs} ms; narrow the date range or the distance`));
        }
        logger.error({ err, query: q }, 'proximity query failed');
        return callback(fail(status.INTERNAL, 'the proximity query failed'));
      }
      logger.debug({ query: q, ms: Date.now() - started, kind: result.kind }, 'proximity query');

      switch (result.kind) {
        case 'unknown-person':
          return callback(fail(status.NOT_FOUND, `person_id: no person with id ${q.personId}`));
        case 'connections':
          return callback(null, {
            connections: result.connections.map((c) => ({
              person: c.person,
              location: c.location,
              distanceMeters: c.closest?.distanceMeters ?? 0,
              ownLocation: c.closest?.ownLocation,
            })),
            people: [],
          });
        case 'people':
          return callback(null, { connections: [], people: result.people });
      }
    }),
  };
}
