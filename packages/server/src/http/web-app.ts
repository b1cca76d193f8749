import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

/**
 * Serves the built web app. Paths under /api and /ws that match nothing get a JSON 404; any other unknown GET
 * gets index.html so the client-side router can handle deep links. Without a built app only the API runs.
 */
export async function installWebApp(app: FastifyInstance, webDir: string | null): Promise<void> {
  const isApiPath = (url: string) => url.startsWith('/api') || url.startsWith('/ws') || url.startsWith('/healthz');
  if (!webDir) {
    app.log.warn('web app not built (packages/web/dist missing): serving the API only');
  } else {
    await app.register(fastifyStatic, {
      root: webDir,
      wildcard: false,
      index: ['index.html'],
      setHeaders(res, path) {
        // Vite puts a content hash in every asset name, so assets never change under the same URL.
        if (path.includes('/assets/')) res.header('Cache-Control', 'public, max-age=31536000, immutable');
        else res.header('Cache-Control', 'no-cache');
      },
    });
  }
  app.setNotFoundHandler((request, reply) => {
    if (!webDir || request.method !== 'GET' || isApiPath(request.url)) {
      return reply.status(404).send(new AppError('ROUTE_NOT_FOUND').toBody());
    }
    return reply.header('Cache-Control', 'no-cache').sendFile('index.html');
  });
}
