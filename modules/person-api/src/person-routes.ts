import type { Router } from 'express';
import { z } from 'zod';
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { notFound } from '@udaconnect/common';
import { addRoute, jsonResponse, problemResponse } from './http/typed-routes';
import type { PersonRepository } from './person-repository';
import { createPersonSchema, listPersonsQuery, personIdParams, personSchema } from './person-schemas';

export function addPersonRoutes(router: Router, registry: OpenAPIRegistry, persons: PersonRepository): void {
  const tags = ['Persons'];
  addRoute(router, registry, {
    method: 'get',
    path: '/api/persons',
    summary: 'List persons, ordered by id',
    tags,
    query: listPersonsQuery,
    responses: { 200: jsonResponse('The persons', z.array(personSchema)), 400: problemResponse('Bad limit or offset') },
    handler: async ({ query, res }) => {
      res.json(await persons.list(query.limit, query.offset));
    },
  });
  addRoute(router, registry, {
    method: 'post',
    path: '/api/persons',
    summary: 'Create a person',
    tags,
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
  addRoute(router, registry, {
    method: 'get',
    path: '/api/persons/{id}',
    summary: 'Get one person',
    tags,
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
