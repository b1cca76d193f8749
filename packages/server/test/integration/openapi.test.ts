import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.close();
});

interface OpenApiDoc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, { tags?: string[]; requestBody?: unknown; responses?: Record<string, unknown> }>>;
  components?: { securitySchemes?: Record<string, unknown> };
}

describe('API description and health', () => {
  it('GET /api/openapi.json is an OpenAPI 3 document of the /api/v1 routes', async () => {
    const res = await fetch(`${server.url}/api/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const doc = (await res.json()) as OpenApiDoc;
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBe('KKChat API');
    const paths = Object.keys(doc.paths);
    for (const path of [
      '/api/v1/auth/register',
      '/api/v1/auth/login',
      '/api/v1/auth/refresh',
      '/api/v1/auth/logout',
      '/api/v1/auth/sessions',
      '/api/v1/auth/sessions/{id}',
      '/api/v1/users/me',
      '/api/v1/users/search',
      '/api/v1/contacts',
      '/api/v1/friend-requests',
      '/api/v1/friend-requests/{id}/accept',
      '/api/v1/blocks/{userId}',
      '/api/v1/conversations',
      '/api/v1/conversations/{id}/messages',
      '/api/v1/conversations/{id}/read',
    ]) {
      expect(paths).toContain(path);
    }
    expect(Object.keys(doc.paths['/api/v1/conversations/{id}/messages']!).sort()).toEqual(['get', 'post']);
    expect(doc.paths['/api/v1/auth/login']!.post!.requestBody).toBeDefined();
    expect(doc.components?.securitySchemes).toHaveProperty('bearer');
    // Internal routes are not described.
    expect(paths).not.toContain('/healthz');
    expect(paths).not.toContain('/api/openapi.json');
  });

  it('GET /api/docs serves the browsable HTML page', async () => {
    const res = await fetch(`${server.url}/api/docs`, { redirect: 'follow' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toMatch(/<html/i);
  });

  it('the docs page and its assets carry a CSP: no inline script handlers, no framing, scripts only from here', async () => {
    for (const path of ['/api/docs/', '/api/docs/static/index.html', '/api/docs/static/swagger-initializer.js']) {
      const res = await fetch(`${server.url}${path}`, { redirect: 'follow' });
      expect(res.status).toBe(200);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, path).toMatch(/script-src 'self'/);
      expect(csp, path).toMatch(/script-src-attr 'none'/);
      expect(csp, path).toMatch(/frame-ancestors 'none'/);
      expect(csp, path).not.toMatch(/unsafe-inline|unsafe-eval|upgrade-insecure-requests/);
    }
  });

  it('GET /healthz → 200 { status: "ok" }', async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; version: string; uptimeMs: number };
    expect(body).toMatchObject({ status: 'ok', version: expect.any(String), uptimeMs: expect.any(Number) });
  });
});
