import {
  CompleteUploadResponseSchema,
  CreateUploadRequestSchema,
  FileContentQuerySchema,
  FileLinksRequestSchema,
  FileLinksResponseSchema,
  FileResponseSchema,
  IdParamsSchema,
  UploadPartParamsSchema,
  UploadResponseSchema,
} from '@kkchat/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../context.js';
import { AppError } from '../../errors.js';
import { bearerToken } from '../auth/auth.hook.js';
import { parseRange, refuseBody, setFileHeaders } from './files.http.js';

const tags = ['files'];
/** A part request that sends nothing for this long is dropped (a client whose connection silently died). */
const PART_IDLE_MS = 30_000;

/** Uploads (resumable) and file metadata and links; authenticated. */
export const fileRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  // Parts are raw bytes, streamed by the handler itself: nothing is parsed or buffered here.
  app.addContentTypeParser('application/octet-stream', (_request, _payload, done) => done(null, undefined));

  app.post(
    '/uploads',
    { schema: { tags, summary: 'Start a resumable upload (size and name; the content decides the type)', body: CreateUploadRequestSchema, response: { 201: UploadResponseSchema } } },
    async (request, reply) => reply.status(201).send({ upload: await services.uploads.createUpload(request.actor, request.body) }),
  );

  app.get(
    '/uploads/:id',
    { schema: { tags, summary: 'An upload and how many bytes the server has (resume from there)', params: IdParamsSchema, response: { 200: UploadResponseSchema } } },
    async (request) => ({ upload: await services.uploads.getUpload(request.actor, request.params.id) }),
  );

  app.put(
    '/uploads/:id/parts/:part',
    {
      schema: {
        tags,
        summary: 'Send part n (application/octet-stream, exactly partSize bytes but the last, with Content-Length)',
        params: UploadPartParamsSchema,
        response: { 200: UploadResponseSchema },
      },
    },
    async (request, reply) => {
      const header = request.headers['content-length'];
      const length = header === undefined || !/^\d+$/.test(header) ? undefined : Number(header);
      request.raw.setTimeout(PART_IDLE_MS, () => request.raw.destroy(new Error('upload part idle')));
      try {
        const upload = await services.uploads.receivePart(request.actor, request.params.id, request.params.part, length, request.raw);
        return { upload };
      } catch (error) {
        refuseBody(request, reply);
        throw error;
      } finally {
        request.raw.socket?.setTimeout(0);
      }
    },
  );

  app.post(
    '/uploads/:id/complete',
    { schema: { tags, summary: 'Finish an upload: type sniffed, sha-256, image size and thumbnail', params: IdParamsSchema, response: { 200: CompleteUploadResponseSchema } } },
    async (request) => ({ file: await services.uploads.completeUpload(request.actor, request.params.id) }),
  );

  app.delete(
    '/uploads/:id',
    { schema: { tags, summary: 'Cancel an unfinished upload', params: IdParamsSchema } },
    async (request, reply) => {
      await services.uploads.cancelUpload(request.actor, request.params.id);
      return reply.status(204).send();
    },
  );

  app.get(
    '/files/:id',
    { schema: { tags, summary: 'A file you may read, with signed links', params: IdParamsSchema, response: { 200: FileResponseSchema } } },
    async (request) => services.files.getFile(request.actor, request.params.id),
  );

  app.post(
    '/files/links',
    { schema: { tags, summary: 'Signed links for up to 100 files (files you may not read are left out)', body: FileLinksRequestSchema, response: { 200: FileLinksResponseSchema } } },
    async (request) => ({ links: await services.files.links(request.actor, request.body.fileIds) }),
  );
};

/**
 * `GET /files/:id/content`: the bytes, by signed link (`u`, `exp`, `sig`: what <img> and <video> use) or with a
 * bearer token. Registered outside the authentication hook, since a browser's media request carries no header.
 */
export const fileContentRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/files/:id/content',
    { schema: { tags, summary: 'Download (HTTP Range supported) by signed link or bearer token', params: IdParamsSchema, querystring: FileContentQuerySchema } },
    async (request, reply) => {
      const { v: variant, u, exp, sig, download } = request.query;
      const now = Date.now();
      let userId: string;
      let maxAgeSec = 0;
      if (sig !== undefined || u !== undefined || exp !== undefined) {
        if (sig === undefined || u === undefined || exp === undefined) throw new AppError('FILE_LINK_INVALID');
        services.files.verifyLink(request.params.id, variant, u, exp, sig);
        userId = u;
        maxAgeSec = Math.floor((exp - now) / 1000);
      } else {
        const token = bearerToken(request);
        if (!token) throw new AppError('UNAUTHENTICATED');
        userId = (await services.auth.authenticate(token)).userId;
      }
      const content = await services.files.content(userId, request.params.id, variant);
      setFileHeaders(reply, content, download === '1', maxAgeSec);
      if (request.headers['if-none-match'] === `"${content.sha256}"`) return reply.status(304).send();
      const range = parseRange(request.headers.range, content.size);
      if (range === 'unsatisfiable') {
        reply.header('Content-Range', `bytes */${content.size}`);
        throw new AppError('RANGE_NOT_SATISFIABLE');
      }
      if (range) {
        reply.status(206).header('Content-Range', `bytes ${range.start}-${range.end}/${content.size}`);
        reply.header('Content-Length', String(range.end - range.start + 1));
        return reply.send(await services.files.read(content.key, range));
      }
      reply.header('Content-Length', String(content.size));
      return reply.send(await services.files.read(content.key));
    },
  );
};
