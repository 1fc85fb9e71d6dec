// Request bodies as handlers read them: a client that stops sending (slowloris on the body)
// is answered 408 after http.bodyIdleTimeoutMs instead of holding its connection for ever.
import { Transform, type Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { RegistryError, type ErrorCode } from '../registry/errors.js';

/** For a server built without the setting (it has a default in the configuration). */
const DEFAULT_IDLE_MS = 60_000;

declare module 'fastify' {
  interface FastifyRequest {
    /** http.bodyIdleTimeoutMs, set by the server for every request. */
    bodyIdleTimeoutMs: number;
  }
}

/**
 * The request body, failing with 408 (`code`, and Connection: close) when the client sends
 * nothing for http.bodyIdleTimeoutMs. The connection stays up until that answer is written; a
 * wait on our side (the store reading slowly, so the body is held back) is not the client's
 * idleness.
 */
export function requestBody(request: FastifyRequest, code: ErrorCode): Readable {
  const source = request.raw;
  const idleMs = request.bodyIdleTimeoutMs > 0 ? request.bodyIdleTimeoutMs : DEFAULT_IDLE_MS;
  const guard = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      timer.refresh();
      done(null, chunk);
    },
  });
  const timer = setTimeout(function expire() {
    if (guard.writableNeedDrain || source.isPaused()) {
      timer.refresh();
      return;
    }
    source.unpipe(guard);
    guard.destroy(new RegistryError(code, `the request body sent nothing for ${idleMs} ms`, { idleMs }, { status: 408, headers: { Connection: 'close' } }));
  }, idleMs);
  // Its errors reach whoever reads the body; a body nobody reads must not crash the process.
  guard.on('error', () => undefined);
  const stop = () => clearTimeout(timer);
  source.once('end', stop);
  guard.once('close', stop);
  source.once('error', (err) => guard.destroy(err));
  source.once('close', () => {
    if (!source.readableEnded) guard.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
  });
  source.pipe(guard);
  return guard;
}
