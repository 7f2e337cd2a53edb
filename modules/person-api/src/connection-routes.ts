import { z } from 'zod';
import { notFound } from '@udaconnect/common';
import { GroupBy, type FindConnectionsResponse } from '@udaconnect/proto';
import { addRoute, problemResponse, type RouteContext } from './http/typed-routes';
import { TooManyQueries, type ConnectionFinder } from './connection-client';
import { CONNECTIONS_PAGE_MAX, connectionQuery, connectionSchema, personConnectionSchema } from './connection-schemas';
import { dayRange } from './date-range';
import type { Location } from './location-schemas';
import type { PersonRepository } from './person-repository';
import { personIdParams } from './person-schemas';

type WireLocation = NonNullable<FindConnectionsResponse['connections'][number]['location']>;

/** The old API's Location shape: coordinates as strings, UTC time without ".000". */
const toLocation = (l: WireLocation): Location => ({
  id: l.id,
  person_id: l.personId,
  latitude: String(l.latitude),
  longitude: String(l.longitude),
  creation_time: l.creationTime!.toISOString().replace('.000Z', 'Z'),
});
const toPerson = (p: { id: number; firstName: string; lastName: string; companyName: string }) => ({
  id: p.id,
  first_name: p.firstName,
  last_name: p.lastName,
  company_name: p.companyName,
});
const iso = (d: Date | undefined) => d!.toISOString().replace('.000Z', 'Z');

/** The same request with `cursor` set: the URL of the next page, for `Link: <…>; rel="next"`. */
function nextPageUrl(path: string, query: Record<string, unknown>, cursor: string): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (typeof v === 'string' && k !== 'cursor') params.set(k, v);
  params.set('cursor', cursor);
  return `${path}?${params.toString()}`;
}

export function addConnectionRoutes(ctx: RouteContext, persons: PersonRepository, finder: ConnectionFinder): void {
  addRoute(ctx, {
    method: 'get',
    path: '/api/persons/{id}/connection',
    summary: 'Who was within `distance` meters of this person during the date range',
    description:
      "A connection is another person's location within `distance` geodesic meters of one of this person's locations, " +
      'both inside the range of whole UTC days [start_date, end_date] (both included). Each location appears once, ordered ' +
      'by time then id. With `group_by=person`, one entry per person instead.\n\n' +
      `**Paging.** The body is always a JSON array. With \`limit\` (1–${CONNECTIONS_PAGE_MAX}) it holds one page; \`Link: <…>; rel="next"\` ` +
      'gives the URL of the next page (absent on the last), and `X-Total-Count` the entries of the whole answer. Without `limit` ' +
      'and `cursor` the whole answer comes at once, up to 10,000 entries (more: 400, asking for pages).\n\n' +
      "**Limits.** A query whose work would be too large (about 500,000 pairs of locations: the person's own locations in the range × " +
      'the others near each) is refused with 400 saying what to narrow. A caller may have 2 queries running at once (429 with `Retry-After`). ' +
      'A client that disconnects cancels its query.',
    tags: ['Connections'],
    access: { rule: 'own-person', legacyAnonymousRead: true },
    params: personIdParams,
    query: connectionQuery,
    responses: {
      200: {
        description: '[Connection] by default; [PersonConnection] with group_by=person; one page of them with limit or cursor',
        headers: {
          'X-Total-Count': { description: 'Entries in the whole answer (all pages)', schema: { type: 'integer', minimum: 0 } },
          Link: { description: 'RFC 8288 link to the next page (rel="next"), when there is one', schema: { type: 'string' } },
        },
        content: { 'application/json': { schema: z.union([z.array(connectionSchema), z.array(personConnectionSchema)]) } },
      },
      400: problemResponse('A missing or bad parameter (named in errors), or a query too large to answer (the detail says what to narrow)'),
      404: problemResponse('No person with this id'),
      429: problemResponse('This caller already has its maximum of connection queries running (Retry-After)'),
      503: problemResponse('connection-service or the database is unavailable'),
    },
    handler: async ({ params, query, principal, req, res }) => {
      const { start, end } = dayRange(query.start_date, query.end_date);
      // The REST client going away, or the answer no longer being needed (404), cancels the gRPC
      // call, and connection-service then cancels its SQL.
      const abort = new AbortController();
      res.on('close', () => {
        if (!res.writableFinished) abort.abort();
      });
      // The gRPC call and the person look-up run side by side. The call's outcome is held (a
      // handler attached at once, so an early failure is never an unhandled rejection): an
      // unknown person is 404 even when connection-service is down.
      const call = finder
        .find(
          {
            personId: params.id,
            start,
            end,
            distanceMeters: query.distance,
            timeWindowMinutes: query.time_window,
            groupBy: query.group_by === 'person' ? GroupBy.GROUP_BY_PERSON : GroupBy.GROUP_BY_UNSPECIFIED,
            // The REST answer has no distance or own location: not asked, not computed.
            withClosest: false,
            pageSize: query.limit ?? 0,
            pageToken: query.cursor ?? '',
          },
          { authorization: req.headers.authorization, key: principal ? principal.subject : `ip:${req.ip ?? 'unknown'}`, signal: abort.signal },
        )
        .then(
          (response) => ({ response }),
          (error: unknown) => ({ error }),
        );
      if (!(await persons.findById(params.id))) {
        abort.abort();
        throw notFound(`No person with id ${params.id}`);
      }
      const outcome = await call;
      if ('error' in outcome) {
        if (outcome.error instanceof TooManyQueries) res.setHeader('Retry-After', String(outcome.error.retryAfterSeconds));
        throw outcome.error;
      }
      const result = outcome.response;
      res.setHeader('X-Total-Count', String(result.totalSize));
      if (result.nextPageToken) res.setHeader('Link', `<${nextPageUrl(req.path, req.query, result.nextPageToken)}>; rel="next"`);
      if (query.group_by === 'person') {
        res.json(
          result.people.map((p) => ({
            person: toPerson(p.person!),
            first_met: iso(p.firstMet),
            last_met: iso(p.lastMet),
            match_count: Number(p.matchCount),
            closest_distance_meters: p.closestDistanceMeters,
            meeting_points: p.meetingPoints.map(toLocation),
          })),
        );
      } else {
        res.json(result.connections.map((c) => ({ person: toPerson(c.person!), location: toLocation(c.location!) })));
      }
    },
  });
}
