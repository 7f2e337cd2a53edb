import express from 'express';
import swaggerUi from 'swagger-ui-express';
import { notFoundRoute, problemHandler, type Database, type Logger, type PersonDirectory, type PingPublisher } from '@udaconnect/common';
import { addHealthRoutes } from './health-routes';
import { createRegistry, openApiDocument } from './openapi';
import { addPersonRoutes } from './person-routes';
import { personRepository } from './person-repository';
import { addLocationRoutes } from './location-routes';
import { locationRepository } from './location-repository';
import { addConnectionRoutes } from './connection-routes';
import type { ConnectionFinder } from './connection-client';

export interface PersonApiDeps {
  db: Database;
  logger: Logger;
  /** Publishes POST /api/locations pings to Kafka, as location-ingest does. */
  publisher: PingPublisher;
  personDirectory: PersonDirectory;
  /** Answers GET /api/persons/{id}/connection (connection-service over gRPC). */
  connections: ConnectionFinder;
  /** Dependencies reported by /readyz without failing it (Kafka, connection-service). */
  degradedChecks?: Record<string, () => Promise<boolean>>;
  bodyLimit?: string;
}

/** The whole REST API as an express app; main.ts only adds the port and signals. */
export function createApp({ db, logger, publisher, personDirectory, connections, degradedChecks, bodyLimit = '16kb' }: PersonApiDeps) {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(express.json({ limit: bodyLimit, strict: false }));

  const registry = createRegistry();
  const api = express.Router();
  addHealthRoutes(api, registry, { database: db.isReady }, degradedChecks);
  const persons = personRepository(db.knex);
  addPersonRoutes(api, registry, persons);
  addLocationRoutes(api, registry, { persons, locations: locationRepository(db.knex), personDirectory, publisher });
  addConnectionRoutes(api, registry, persons, connections);
  app.use(api);

  const document = openApiDocument(registry);
  app.get('/openapi.json', (_req, res) => void res.json(document));
  app.use('/', swaggerUi.serve);
  app.get('/', swaggerUi.setup(document, { customSiteTitle: 'UdaConnect API' }));

  app.use(notFoundRoute);
  app.use(problemHandler(logger));
  return app;
}
