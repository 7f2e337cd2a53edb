import { OpenAPIRegistry, OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';

export const createRegistry = () => new OpenAPIRegistry();

export function openApiDocument(registry: OpenAPIRegistry) {
  return new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: {
      title: 'UdaConnect API',
      version: '1.0.0',
      description:
        'Persons, their location pings and their connections (who was within a few meters of whom). ' +
        'Errors are application/problem+json (RFC 9457).',
    },
    servers: [{ url: '/' }],
  });
}
