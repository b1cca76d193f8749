import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError } from '../errors.js';

/**
 * Maps every failure to `{ error: { code, message, ... } }` with the right status. Internals stay in the log:
 * a 500 says only that something went wrong.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const appError = toAppError(error);
    if (appError.status >= 500) request.log.error({ err: error }, 'request failed');
    if (appError.retryAfterMs !== undefined) {
      reply.header('Retry-After', String(Math.max(1, Math.ceil(appError.retryAfterMs / 1000))));
    }
    const body = appError.toBody();
    // A server error names the request, so a user's report can be matched with the log line.
    if (appError.status >= 500) body.error.requestId = String(request.id);
    return reply.status(appError.status).send(body);
  });
}

function toAppError(error: FastifyError): AppError {
  if (error instanceof AppError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = error.validationContext ?? 'body';
    return new AppError('VALIDATION_FAILED', {
      fields: error.validation.map((v) => ({
        field: [where === 'body' ? '' : where, ...String(v.instancePath).split('/').filter(Boolean)]
          .filter(Boolean)
          .join('.') || where,
        message: v.message ?? 'invalid',
      })),
    });
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('INVALID_JSON', { message: 'The request body is empty or malformed.' });
    case 'FST_ERR_VALIDATION':
      return new AppError('VALIDATION_FAILED', { message: error.message });
    default:
      break;
  }
  if (error.statusCode === 400 && (error instanceof SyntaxError || /JSON/i.test(error.message))) {
    return new AppError('INVALID_JSON');
  }
  if (error.statusCode === 429) return new AppError('RATE_LIMITED');
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    return new AppError('VALIDATION_FAILED', { message: error.message });
  }
  return new AppError('INTERNAL');
}
