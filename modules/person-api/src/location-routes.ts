import { z } from 'zod';
import { assertMayActFor, badRequest, ForbiddenError, HttpProblem, notFound, serviceUnavailable } from '@udaconnect/common';
import { admitPing, type PingMetrics, type PingProblem, type PingVerdict } from '@udaconnect/domain';
import { access } from './http/access';
import { addRoute, jsonResponse, problemResponse, type RouteContext } from './http/typed-routes';
import { dayRange } from './date-range';
import type { PersonRepository } from './person-repository';
import { int4Id } from './person-schemas';
import { idParam } from './http/fields';
import { acceptedLocationSchema, locationSchema, newLocationSchema, personLocationsQuery } from './location-schemas';
import type { locationRepository } from './location-repository';
import type { PingPublishing } from './pings';

export interface LocationRouteDeps {
  persons: PersonRepository;
  locations: ReturnType<typeof locationRepository>;
  /** Same path as gRPC pings: validation rules, person cache and Kafka publisher. */
  personDirectory: PingPublishing['personDirectory'];
  publisher: PingPublishing['publisher'];
  /** Each ping's outcome (udaconnect_pings_total{transport="rest"}). */
  metrics?: Pick<PingMetrics, 'count'>;
}

/** A refused ping as REST answers it: the old body calls recorded_at creation_time. */
function problemOf(problem: PingProblem, personId: number): Error {
  switch (problem.kind) {
    case 'forbidden':
      return new ForbiddenError(problem.reason);
    case 'not_found':
      return new HttpProblem(404, 'Not Found', `No person with id ${personId}`, [{ field: 'person_id', message: 'no such person' }]);
    case 'invalid': {
      const field = problem.field === 'recorded_at' ? 'creation_time' : problem.field;
      return badRequest(problem.reason.replace(/^recorded_at/, 'creation_time'), [{ field, message: problem.reason }]);
    }
  }
}

export function addLocationRoutes(ctx: RouteContext, deps: LocationRouteDeps): void {
  const tags = ['Locations'];
  addRoute(ctx, {
    method: 'post',
    path: '/api/locations',
    summary: 'Record a location ping (old body); it goes through Kafka like every device ping',
    description:
      'Validated like a gRPC ping, then published to Kafka. 202 means Kafka has it durably; the row appears in ' +
      'the database shortly after. Send the same event_id again to retry safely.',
    tags,
    access: access.signedIn,
    body: newLocationSchema,
    responses: {
      202: jsonResponse('Accepted: durably in Kafka', acceptedLocationSchema),
      400: problemResponse('A bad field'),
      404: problemResponse('No person with this person_id'),
      503: problemResponse('Kafka or the database is unavailable; retry with the same event_id'),
    },
    handler: async ({ body, principal, res }) => {
      let verdict: PingVerdict;
      try {
        verdict = await admitPing(
          principal!,
          {
            eventId: body.event_id ?? '',
            personId: body.person_id,
            latitude: body.latitude,
            longitude: body.longitude,
            // No offset in the old body's times means UTC.
            recordedAt: new Date(/[zZ]|[+-]\d{2}:?\d{2}$/.test(body.creation_time) ? body.creation_time : `${body.creation_time}Z`),
          },
          deps.personDirectory,
        );
      } catch (err) {
        // The person could not be checked (database down): the problem handler answers 503.
        deps.metrics?.count('person_check_unavailable');
        throw err;
      }
      if (!verdict.ok) {
        deps.metrics?.count(verdict.problem.kind);
        throw problemOf(verdict.problem, body.person_id);
      }
      const { ping } = verdict;
      try {
        await deps.publisher.publish(ping);
        deps.metrics?.count('accepted');
      } catch {
        deps.metrics?.count('kafka_unavailable');
        res.setHeader('Retry-After', '5');
        throw serviceUnavailable('Could not hand the location to Kafka; retry later with the same event_id');
      }
      res.status(202).json({ event_id: ping.eventId });
    },
  });
  addRoute(ctx, {
    method: 'get',
    path: '/api/locations/{id}',
    summary: 'Get one location',
    tags,
    access: access.signedIn,
    params: z.object({ id: idParam('Location id', Number.MAX_SAFE_INTEGER) }),
    responses: { 200: jsonResponse('The location', locationSchema), 400: problemResponse('Bad id'), 404: problemResponse('No location with this id') },
    handler: async ({ params, principal, res }) => {
      const location = await deps.locations.findById(params.id);
      if (!location) throw notFound(`No location with id ${params.id}`);
      assertMayActFor(principal!, location.person_id);
      res.json(location);
    },
  });
  addRoute(ctx, {
    method: 'get',
    path: '/api/persons/{id}/locations',
    summary: "A person's pings, ordered by time",
    tags,
    access: access.ownPerson,
    params: z.object({ id: int4Id('Person id') }),
    query: personLocationsQuery,
    responses: {
      200: jsonResponse('The locations', z.array(locationSchema)),
      400: problemResponse('Bad id, date or paging parameter'),
      404: problemResponse('No person with this id'),
    },
    handler: async ({ params, query, res }) => {
      if (!(await deps.persons.findById(params.id))) throw notFound(`No person with id ${params.id}`);
      const start = query.start_date ? dayRange(query.start_date, query.start_date).start : undefined;
      const end = query.end_date ? dayRange(query.end_date, query.end_date).end : undefined;
      res.json(await deps.locations.forPerson(params.id, { start, end }, query.limit ?? 1000, query.offset ?? 0));
    },
  });
}
