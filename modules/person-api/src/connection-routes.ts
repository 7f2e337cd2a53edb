import { z } from 'zod';
import { notFound } from '@udaconnect/common';
import { GroupBy, type FindConnectionsResponse } from '@udaconnect/proto';
import { addRoute, problemResponse, type RouteContext } from './http/typed-routes';
import type { ConnectionFinder } from './connection-client';
import { connectionQuery, connectionSchema, personConnectionSchema } from './connection-schemas';
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

export function addConnectionRoutes(ctx: RouteContext, persons: PersonRepository, finder: ConnectionFinder): void {
  addRoute(ctx, {
    method: 'get',
    path: '/api/persons/{id}/connection',
    summary: 'Who was within `distance` meters of this person during the date range',
    description:
      "A connection is another person's location within `distance` geodesic meters of one of this person's locations, " +
      'both inside the range of whole UTC days [start_date, end_date] (both included). Each location appears once, ordered ' +
      'by time then id. With `group_by=person`, one entry per person instead.',
    tags: ['Connections'],
    access: { rule: 'own-person', legacyAnonymousRead: true },
    params: personIdParams,
    query: connectionQuery,
    responses: {
      200: {
        description: '[Connection] by default; [PersonConnection] with group_by=person',
        content: { 'application/json': { schema: z.union([z.array(connectionSchema), z.array(personConnectionSchema)]) } },
      },
      400: problemResponse('A missing or bad parameter (named in errors)'),
      404: problemResponse('No person with this id'),
      503: problemResponse('connection-service or the database is unavailable'),
    },
    handler: async ({ params, query, req, res }) => {
      const { start, end } = dayRange(query.start_date, query.end_date);
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
          },
          { authorization: req.headers.authorization },
        )
        .then(
          (response) => ({ response }),
          (error: unknown) => ({ error }),
        );
      if (!(await persons.findById(params.id))) throw notFound(`No person with id ${params.id}`);
      const outcome = await call;
      if ('error' in outcome) throw outcome.error;
      const result = outcome.response;
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
