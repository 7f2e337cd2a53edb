import { z } from 'zod';
import { notFound } from '@udaconnect/common';
import { access } from './http/access';
import { addRoute, jsonResponse, problemResponse, type RouteContext } from './http/typed-routes';
import type { PersonRepository } from './person-repository';
import { createPersonSchema, listPersonsQuery, PERSONS_PAGE_MAX, personChangesSchema, personIdParams, personSchema } from './person-schemas';

/** RFC 8288 links to the next and previous pages of GET /api/persons, relative to the API's root. */
function pageLinks(limit: number, offset: number, total: number): string | undefined {
  const link = (o: number, rel: string) => `</api/persons?limit=${limit}&offset=${o}>; rel="${rel}"`;
  const links = [];
  if (offset + limit < total) links.push(link(offset + limit, 'next'));
  if (offset > 0) links.push(link(Math.max(0, offset - limit), 'prev'));
  return links.length ? links.join(', ') : undefined;
}

export interface PersonRouteDeps {
  persons: PersonRepository;
  /** Told the id of each erased person, so this process refuses their tokens at once (the others within a poll). */
  onErased?: (personId: number) => void;
}

export function addPersonRoutes(ctx: RouteContext, { persons, onErased }: PersonRouteDeps): void {
  const tags = ['Persons'];
  addRoute(ctx, {
    method: 'get',
    path: '/api/persons',
    summary: 'List persons, ordered by id',
    description:
      `A page of persons, as a plain JSON array. Without \`limit\` the page holds every person up to ${PERSONS_PAGE_MAX}. ` +
      '`X-Total-Count` is the number of persons in all; when more exist than this page holds, `Link` has a `rel="next"` URL ' +
      '(RFC 8288), and a `rel="prev"` one when `offset` is above 0.',
    tags,
    access: { rule: 'organizer', legacyAnonymousRead: true },
    query: listPersonsQuery,
    responses: {
      200: {
        ...jsonResponse('The persons', z.array(personSchema)),
        headers: {
          'X-Total-Count': { description: 'How many persons there are in all', schema: { type: 'integer', minimum: 0 } },
          Link: { description: 'RFC 8288 links to the next and previous pages, when there are some', schema: { type: 'string' } },
        },
      },
      400: problemResponse('Bad limit or offset'),
    },
    handler: async ({ query, res }) => {
      const limit = query.limit ?? PERSONS_PAGE_MAX;
      const offset = query.offset ?? 0;
      const [page, total] = await Promise.all([persons.list(limit, offset), persons.count()]);
      res.setHeader('X-Total-Count', String(total));
      const links = pageLinks(limit, offset, total);
      if (links) res.setHeader('Link', links);
      res.json(page);
    },
  });
  addRoute(ctx, {
    method: 'post',
    path: '/api/persons',
    summary: 'Create a person',
    tags,
    access: access.organizer,
    body: createPersonSchema,
    responses: {
      201: jsonResponse('The created person', personSchema),
      400: problemResponse('Missing, empty, mistyped or unknown fields, or malformed JSON'),
      413: problemResponse('Body too large'),
    },
    handler: async ({ body, res }) => {
      const person = await persons.create(body);
      res.status(201).location(`/api/persons/${person.id}`).json(person);
    },
  });
  addRoute(ctx, {
    method: 'get',
    path: '/api/persons/{id}',
    summary: 'Get one person',
    description: "An attendee reads their own record here; their contacts' records come inside their connections.",
    tags,
    access: { rule: 'own-person', legacyAnonymousRead: true },
    params: personIdParams,
    responses: {
      200: jsonResponse('The person', personSchema),
      400: problemResponse('The id is not a positive integer'),
      404: problemResponse('No person with this id'),
    },
    handler: async ({ params, res }) => {
      const person = await persons.findById(params.id);
      if (!person) throw notFound(`No person with id ${params.id}`);
      res.json(person);
    },
  });
  addRoute(ctx, {
    method: 'patch',
    path: '/api/persons/{id}',
    summary: 'Change a person: names, or whether others can discover them',
    description:
      'Fields absent from the body stay as they are (an empty object changes nothing). With `discoverable: false` the person is left out of ' +
      "every other person's connection answers, from the next query on, until it is set back to true; their own connection answers still work.",
    tags,
    access: access.ownPerson,
    params: personIdParams,
    body: personChangesSchema,
    responses: {
      200: jsonResponse('The person after the change', personSchema),
      404: problemResponse('No person with this id'),
    },
    handler: async ({ params, body, res }) => {
      const person = Object.keys(body).length ? await persons.update(params.id, body) : await persons.findById(params.id);
      if (!person) throw notFound(`No person with id ${params.id}`);
      res.json(person);
    },
  });
  addRoute(ctx, {
    method: 'delete',
    path: '/api/persons/{id}',
    summary: 'Erase a person: the person, every location, every device and token',
    description:
      'Removes the person, all their locations and devices in one transaction; their tokens stop working (at once here, within ' +
      'the revocation poll, 15 s, in the other services). Pings of theirs still on their way (in Kafka) are dropped by the writer, ' +
      'never stored, and so is a replay of the topic. Only the id is kept, in a list of erased ids, so that this holds. ' +
      'A second DELETE answers 404.',
    tags,
    access: access.ownPerson,
    params: personIdParams,
    responses: {
      204: { description: 'Erased' },
      404: problemResponse('No person with this id (never was, or already erased)'),
    },
    handler: async ({ params, principal, res }) => {
      const erased = await persons.erase(params.id);
      if (!erased) throw notFound(`No person with id ${params.id}`);
      onErased?.(params.id);
      // The id and counts only: nothing else of the person is kept, in the database or the logs.
      ctx.logger.info({ personId: params.id, by: principal?.role, ...erased }, 'person erased');
      res.status(204).end();
    },
  });
}
