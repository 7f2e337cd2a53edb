/**
 * The ConnectionService gRPC handler: validate the request, run the proximity query, map the
 * result or the error to a gRPC status. person-api validates the REST parameters first; the
 * checks here are the service's own contract, so any other caller gets the same answers.
 */
import { createHash } from 'node:crypto';
import { status, type ServerErrorResponse } from '@grpc/grpc-js';
import { z } from 'zod';
import {
  ForbiddenError,
  keyedConcurrency,
  labelledCounter,
  grpcAuthError,
  grpcPrincipal,
  isDatabaseUnavailable,
  mayActFor,
  tracedQuery,
  unaryHandler,
  type Knex,
  type Logger,
  type MetricsRegistry,
  type Principal,
  type TokenVerifier,
} from '@udaconnect/common';
import { GroupBy, type ConnectionServiceServer, type FindConnectionsRequest, type FindConnectionsResponse } from '@udaconnect/proto';
import { estimateWork, findConnections, QUERY_CANCELED, withCancellableConnection, type ConnectionQuery } from './connection-query';

const MAX_DISTANCE_METERS = 10_000;
/** serialization_failure: on a hot standby, "canceling statement due to conflict with recovery". */
const RECOVERY_CONFLICT = '40001';
/** 366 days (a leap year, both ends included) plus a day of slack for callers' time zones. */
const MAX_SPAN_DAYS = 367;
const DAY_MS = 86_400_000;
/** Largest page_size; a page_token without a page_size gets DEFAULT_PAGE_SIZE. */
const MAX_PAGE_SIZE = 1000;
const DEFAULT_PAGE_SIZE = 100;

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
    page_size: z.number().int().min(0, 'must not be negative').max(MAX_PAGE_SIZE, `must be at most ${MAX_PAGE_SIZE}`),
    page_token: z.string().max(200, 'is not a page token of this query'),
  })
  .superRefine((r, ctx) => {
    const span = r.end.getTime() - r.start.getTime();
    if (span <= 0) ctx.addIssue({ code: 'custom', path: ['end'], message: 'must be after start' });
    else if (span > MAX_SPAN_DAYS * DAY_MS) ctx.addIssue({ code: 'custom', path: ['end'], message: `the range may span at most ${MAX_SPAN_DAYS} days` });
  });

/** What a page token is bound to: a token is refused with any other query. */
function fingerprint(q: ConnectionQuery): string {
  const key = [q.personId, q.start.getTime(), q.end.getTime(), q.distanceMeters, q.timeWindowMinutes ?? 0, q.groupByPerson, Boolean(q.withClosest)];
  return createHash('sha256').update(JSON.stringify(key)).digest('base64url').slice(0, 16);
}

/** Opaque to callers: the offset of the next page and the query it belongs to. */
const encodePageToken = (q: ConnectionQuery, offset: number) => Buffer.from(JSON.stringify({ o: offset, f: fingerprint(q) })).toString('base64url');

function decodePageToken(token: string, q: ConnectionQuery): number | undefined {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o?: unknown; f?: unknown };
    if (typeof t.o === 'number' && Number.isSafeInteger(t.o) && t.o > 0 && t.f === fingerprint(q)) return t.o;
  } catch {
    // not JSON: refused below
  }
  return undefined;
}

/** The request as a query, or a message naming each bad field ("distance_meters: must be …"). */
function parseRequest(req: FindConnectionsRequest): { ok: true; query: ConnectionQuery; paged: boolean } | { ok: false; message: string } {
  const parsed = requestSchema.safeParse({
    person_id: req.personId,
    start: req.start,
    end: req.end,
    distance_meters: req.distanceMeters,
    time_window_minutes: req.timeWindowMinutes,
    group_by: req.groupBy,
    with_closest: req.withClosest,
    page_size: req.pageSize,
    page_token: req.pageToken,
  });
  if (!parsed.success) {
    return { ok: false, message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  }
  const r = parsed.data;
  const query: ConnectionQuery = {
    personId: r.person_id,
    start: r.start,
    end: r.end,
    distanceMeters: r.distance_meters,
    // The proto's rule: 0 or absent means no time window.
    timeWindowMinutes: r.time_window_minutes ? r.time_window_minutes : undefined,
    groupByPerson: r.group_by === GroupBy.GROUP_BY_PERSON,
    withClosest: r.with_closest,
  };
  const paged = r.page_size > 0 || r.page_token !== '';
  if (!paged) return { ok: true, query, paged };
  const offset = r.page_token === '' ? 0 : decodePageToken(r.page_token, query);
  if (offset === undefined) {
    return { ok: false, message: 'page_token: not a next_page_token of this query (every other field must be the same as in the call that returned it)' };
  }
  return { ok: true, query: { ...query, page: { limit: r.page_size || DEFAULT_PAGE_SIZE, offset } }, paged };
}

/** Why a call was refused before its query ran, for udaconnect_connection_queries_refused_total. */
type Refusal = 'caller_concurrency' | 'too_costly' | 'too_many_unpaged';

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

export interface ConnectionHandlerDeps {
  knex: Knex;
  /** Reaching the port is not enough: every call carries a bearer token. */
  verifier: TokenVerifier;
  logger: Logger;
  statementTimeoutMs: number;
  limits: {
    /** Calls one token subject may have running at once (person-api's service token: `service`). */
    perCaller: number;
    /** For tokens of role `service` (person-api's, used for legacy anonymous reads it limits per IP itself). */
    service: number;
    /** Cost guard: estimated matching pairs plus own pings. */
    maxQueryPairs: number;
    /** Entries an unpaged call may return. */
    maxUnpagedResults: number;
  };
  /** udaconnect_connection_queries_refused_total{reason} goes here. */
  metrics?: MetricsRegistry;
  /** Told when a call found the database unreachable, so health can follow at once. */
  onDatabaseUnavailable?: () => void;
}

export function createConnectionHandlers({
  knex,
  verifier,
  logger,
  statementTimeoutMs,
  limits,
  metrics,
  onDatabaseUnavailable,
}: ConnectionHandlerDeps): ConnectionServiceServer {
  const fail = (code: status, details: string): Partial<ServerErrorResponse> => ({ code, details });
  const running = keyedConcurrency(limits.perCaller);
  const refusedTotal = metrics
    ? labelledCounter(metrics, 'udaconnect_connection_queries_refused_total', 'FindConnections calls refused before or instead of answering, by reason.', [
        'reason',
      ])
    : undefined;
  const refuse = (reason: Refusal, code: status, details: string) => {
    refusedTotal?.inc({ reason });
    logger.info({ reason, details }, 'proximity query refused');
    return fail(code, details);
  };
  const callerLimit = (p: Principal) => (p.role === 'service' ? limits.service : limits.perCaller);

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

      const release = running.tryAcquire(principal.subject, callerLimit(principal));
      if (!release) {
        return callback(
          refuse(
            'caller_concurrency',
            status.RESOURCE_EXHAUSTED,
            `this caller already has ${callerLimit(principal)} connection queries running; wait for one to finish`,
          ),
        );
      }
      // The caller going away (cancel, deadline, disconnect) cancels the SQL it started.
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      if (call.cancelled) abort.abort();

      type Outcome = { refused: Partial<ServerErrorResponse> } | { result: Awaited<ReturnType<typeof findConnections>> };
      let outcome: Outcome;
      const started = Date.now();
      try {
        // A SQL span in the call's trace (common/src/tracing.ts): no query text, no values.
        outcome = await tracedQuery({ operation: 'SELECT', table: 'location' }, () =>
          withCancellableConnection(knex, abort.signal, async (db): Promise<Outcome> => {
            // The cost guard: measured on this connection, before the query runs.
            const work = await estimateWork(db, q, limits.maxQueryPairs);
            if (work.pairs + work.ownPings > limits.maxQueryPairs) {
              const per = work.sampled ? work.sampledPairs / work.sampled : 0;
              const about = work.capped ? 'more than' : 'about';
              return {
                refused: refuse(
                  'too_costly',
                  status.FAILED_PRECONDITION,
                  `the query would compare ${about} ${fmt(work.pairs + work.ownPings)} pairs of locations (${fmt(work.ownPings)} of the person's own locations in the range, ` +
                    `each with ${about} ${fmt(per)} others within ${q.distanceMeters} m), more than the limit of ${fmt(limits.maxQueryPairs)}; ` +
                    'narrow the date range, the distance or the time window',
                ),
              };
            }
            const query = q.page ? q : { ...q, page: { limit: limits.maxUnpagedResults + 1, offset: 0 } };
            return { result: await findConnections(db, query) };
          }),
        );
      } catch (err) {
        if (abort.signal.aborted) {
          logger.info({ query: q, ms: Date.now() - started }, 'call cancelled by the caller; its query was cancelled');
          return callback(fail(status.CANCELLED, 'the call was cancelled'));
        }
        if (isDatabaseUnavailable(err)) {
          onDatabaseUnavailable?.();
          logger.warn({ err: (err as Error).message }, 'database unavailable');
          return callback(fail(status.UNAVAILABLE, 'the database is unavailable; retry later'));
        }
        if ((err as { code?: string }).code === RECOVERY_CONFLICT) {
          // A read replica (DATABASE_READ_URL) ended the query to replay a change it conflicted with
          // (a lock, or rows its snapshot still needed): the replica is fine, the next try will do.
          logger.warn({ err: (err as Error).message }, 'proximity query cancelled by the read replica (conflict with recovery)');
          return callback(fail(status.UNAVAILABLE, 'the query was cancelled by the read replica applying changes; retry'));
        }
        if ((err as { code?: string }).code === QUERY_CANCELED) {
          logger.warn({ query: q, statementTimeoutMs }, 'proximity query timed out');
          return callback(fail(status.DEADLINE_EXCEEDED, `the query took longer than ${statementTimeoutMs} ms; narrow the date range or the distance`));
        }
        logger.error({ err, query: q }, 'proximity query failed');
        return callback(fail(status.INTERNAL, 'the proximity query failed'));
      } finally {
        release();
      }
      if ('refused' in outcome) return callback(outcome.refused);
      const result = outcome.result;
      logger.debug({ query: q, ms: Date.now() - started, kind: result.kind }, 'proximity query');

      if (result.kind === 'unknown-person') return callback(fail(status.NOT_FOUND, `person_id: no person with id ${q.personId}`));
      const what = result.kind === 'people' ? 'people' : 'connections';
      if (!q.page && result.total > limits.maxUnpagedResults) {
        return callback(
          refuse(
            'too_many_unpaged',
            status.FAILED_PRECONDITION,
            `the answer holds ${fmt(result.total)} ${what}, more than the ${fmt(limits.maxUnpagedResults)} a call without paging may return; ` +
              'ask for pages (page_size and page_token; REST: limit and cursor) or narrow the date range or the distance',
          ),
        );
      }
      const returned = result.kind === 'people' ? result.people.length : result.connections.length;
      const next = q.page && q.page.offset + returned < result.total ? encodePageToken(q, q.page.offset + returned) : '';
      const page = { nextPageToken: next, totalSize: result.total };
      if (result.kind === 'people') return callback(null, { connections: [], people: result.people, ...page });
      return callback(null, {
        connections: result.connections.map((c) => ({
          person: c.person,
          location: c.location,
          distanceMeters: c.closest?.distanceMeters ?? 0,
          ownLocation: c.closest?.ownLocation,
        })),
        people: [],
        ...page,
      });
    }),
  };
}
