import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';

/**
 * The OpenAPI 3 document is generated from the same zod schemas the routes validate with, so it cannot drift.
 * Served at /api/openapi.json, browsable at /api/docs.
 */
export async function installOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'KKChat API',
        version: '1',
        description:
          'REST API of KKChat. Real-time traffic uses the WebSocket at /ws (see docs/protocol.md). ' +
          'Every error is `{ "error": { "code", "message", "fields"?, "retryAfterMs"? } }`.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, {
    routePrefix: '/api/docs',
    // The docs page shares the app's origin, so it gets a CSP too: the plugin's own (its scripts and styles by
    // hash, no inline event handlers), minus upgrade-insecure-requests (which breaks plain-http deployments)
    // and with no framing, like the app.
    staticCSP: true,
    transformStaticCSP: (header) =>
      header
        .replace(/\s*upgrade-insecure-requests;?/, '')
        .replace("frame-ancestors 'self'", "frame-ancestors 'none'"),
  });
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
