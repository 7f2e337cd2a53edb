import { z } from 'zod';
import { notFound } from '@udaconnect/common';
import { access } from './http/access';
import { addRoute, jsonResponse, problemResponse, type RouteContext } from './http/typed-routes';
import type { PersonRepository } from './person-repository';
import { createPersonSchema, listPersonsQuery, personIdParams, personSchema } from './person-schemas';

export function addPersonRoutes(ctx: RouteContext, persons: PersonRepository): void {
  const tags = ['Persons'];
  addRoute(ctx, {
    method: 'get',
    path: '/api/persons',
    summary: 'List persons, ordered by id',
    tags,
    access: { rule: 'organizer', legacyAnonymousRead: true },
    query: listPersonsQuery,
    responses: { 200: jsonResponse('The persons', z.array(personSchema)), 400: problemResponse('Bad limit or offset') },
    handler: async ({ query, res }) => {
      res.json(await persons.list(query.limit, query.offset));
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
}
