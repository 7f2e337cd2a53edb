import express from 'express';
import swaggerUi from 'swagger-ui-express';
import { notFoundRoute, problemHandler, type Database, type Logger } from '@udaconnect/common';
import { addHealthRoutes } from './health-routes';
import { createRegistry, openApiDocument } from './openapi';
import { addPersonRoutes } from './person-routes';
import { personRepository } from './person-repository';

export interface PersonApiDeps {
  db: Database;
  logger: Logger;
  bodyLimit?: string;
}

/** The whole REST API as an express app; main.ts only adds the port and signals. */
export function createApp({ db, logger, bodyLimit = '16kb' }: PersonApiDeps) {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(express.json({ limit: bodyLimit, strict: false }));

  const registry = createRegistry();
  const api = express.Router();
  addHealthRoutes(api, registry, { database: db.isReady });
  addPersonRoutes(api, registry, personRepository(db.knex));
  app.use(api);

  const document = openApiDocument(registry);
  app.get('/openapi.json', (_req, res) => void res.json(document));
  app.use('/', swaggerUi.serve);
  app.get('/', swaggerUi.setup(document, { customSiteTitle: 'UdaConnect API' }));

  app.use(notFoundRoute);
  app.use(problemHandler(logger));
  return app;
}
