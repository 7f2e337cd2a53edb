import { OpenAPIRegistry, OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';

import { BEARER_SCHEME } from './http/access';

export function createRegistry() {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', BEARER_SCHEME, {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'An organizer token (npm run token -- --role organizer) or a device token (POST /api/persons/{id}/devices)',
  });
  return registry;
}

export function openApiDocument(registry: OpenAPIRegistry) {
  return new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: {
      title: 'UdaConnect API',
      version: '1.0.0',
      description:
        'Persons, their location pings and their connections (who was within a few meters of whom). ' +
        'Errors are application/problem+json (RFC 9457). Every /api route needs a bearer token: use Authorize with an ' +
        'organizer token (`npm run --silent token -- --role organizer`) or a device token.',
    },
    servers: [{ url: '/' }],
  });
}
