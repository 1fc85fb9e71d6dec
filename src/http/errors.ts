// Renders every failure as the spec's JSON error body. Internal errors are logged with their
// stack and answered with a generic message: nothing about the server leaks to clients.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError, RegistryErrors, errorBody } from '../registry/errors.js';
import { backendFailure, type BackendFailure } from './backend-failure.js';

/** Seconds a client is asked to wait before retrying a request a backend failed. */
const RETRY_AFTER_SECONDS = '5';

/** The answer for a failed backend: 503 (retry later) or 507 (the storage is full). */
function backendError(failure: BackendFailure): RegistryError {
  if (failure.kind === 'full') {
    return new RegistryError('UNAVAILABLE', 'the registry storage is full: nothing was stored; retry after space is freed', undefined, { status: 507 });
  }
  return new RegistryError('UNAVAILABLE', `the registry ${failure.backend === 'network' ? 'backend' : failure.backend} is unavailable; retry later`, undefined, {
    headers: { 'Retry-After': RETRY_AFTER_SECONDS },
  });
}

function fromFramework(err: FastifyError): RegistryError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new RegistryError('SIZE_INVALID', 'request body too large', undefined, { status: 413 });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_BAD_URL':
      return new RegistryError('UNSUPPORTED', 'malformed request', undefined, { status: 400 });
    default:
      return undefined;
  }
}

export function sendError(reply: FastifyReply, error: RegistryError): void {
  const all = error instanceof RegistryErrors ? error.all : [error];
  reply.code(error.status).headers(error.headers).header('Content-Type', 'application/json; charset=utf-8');
  if (reply.request.method === 'HEAD') {
    reply.send();
    return;
  }
  reply.send(JSON.stringify(errorBody(all)));
}

function isClientAbort(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (err as Error | undefined)?.message === 'aborted';
}

export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof RegistryError) {
    sendError(reply, err);
    return;
  }
  const mapped = fromFramework(err as FastifyError);
  if (mapped) {
    sendError(reply, mapped);
    return;
  }
  // A reset is the client's only when its own request died before its body was whole: a
  // backend's socket resets too, and a request whose body was read to the end is destroyed as
  // a matter of course (Node's auto-destroy), so `destroyed` alone says nothing.
  const clientGone = request.raw.aborted || request.raw.socket?.destroyed === true || (err as Error | undefined)?.message === 'aborted';
  if (isClientAbort(err) && !request.raw.complete && clientGone) {
    request.log.info({ err: (err as Error).message }, 'client went away during the request');
    if (!reply.raw.headersSent && !reply.raw.destroyed) sendError(reply, new RegistryError('BLOB_UPLOAD_INVALID', 'request body incomplete'));
    return;
  }
  const status = (err as FastifyError).statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    sendError(reply, new RegistryError('UNSUPPORTED', 'malformed request', undefined, { status }));
    return;
  }
  const failure = backendFailure(err);
  if (failure) {
    // Not a bug: one line naming the backend, without a stack, so an outage does not flood the log.
    const backend = failure.kind === 'full' ? 'storage full' : failure.backend;
    request.log.warn({ backend, err: (err as Error).message, code: (err as NodeJS.ErrnoException).code }, 'backend unavailable');
    if (!reply.raw.headersSent) sendError(reply, backendError(failure));
    else reply.raw.destroy();
    return;
  }
  request.log.error({ err }, 'internal error');
  sendError(reply, new RegistryError('UNKNOWN'));
}

/** What the HTTP parser's own failures mean to a client: the status and a message. */
function clientFailure(err: NodeJS.ErrnoException): [number, string] {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'the request headers took too long'];
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'the request headers are too large'];
    default:
      return [400, 'malformed HTTP request'];
  }
}

/**
 * Answers what fails before a request reaches Fastify (slow or oversized headers, a broken
 * chunked body) with the spec's error body, then closes the connection: its framing is lost.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  const response = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || response?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, message] = clientFailure(err);
  const body = JSON.stringify(errorBody([new RegistryError('UNSUPPORTED', message, undefined, { status })]));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
