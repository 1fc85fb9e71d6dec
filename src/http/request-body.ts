// Request bodies as handlers read them: a client that stops sending (slowloris on the body)
// is answered 408 after http.bodyIdleTimeoutMs instead of holding its connection for ever.
import { Readable } from 'node:stream';
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
 * nothing for http.bodyIdleTimeoutMs. Read lazily: the clock runs only while the reader waits
 * for the client (a store that reads slowly is not the client's idleness), and a body nobody
 * reads (refused before reading) is left to Node, which discards it and keeps the connection.
 */
export function requestBody(request: FastifyRequest, code: ErrorCode): Readable {
  const source = request.raw;
  const idleMs = request.bodyIdleTimeoutMs > 0 ? request.bodyIdleTimeoutMs : DEFAULT_IDLE_MS;
  async function* chunks(): AsyncGenerator<Buffer> {
    // The connection must outlive a timeout: the 408 is written to it.
    const reader = source.iterator({ destroyOnReturn: false });
    // One timer for the whole body, re-armed before each wait (not one per chunk); it fires
    // harmlessly while no read is pending.
    let expire: ((err: RegistryError) => void) | undefined;
    const timer = setTimeout(() => expire?.(new RegistryError(code, `the request body sent nothing for ${idleMs} ms`, { idleMs }, { status: 408, headers: { Connection: 'close' } })), idleMs);
    try {
      for (;;) {
        timer.refresh();
        const next = await new Promise<IteratorResult<unknown>>((resolve, reject) => {
          expire = reject;
          reader.next().then(resolve, reject);
        });
        expire = undefined;
        if (next.done) return;
        yield next.value as Buffer;
      }
    } finally {
      clearTimeout(timer);
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}
