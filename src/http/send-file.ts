// Sends a blob file on a hijacked reply: reads of 1 MiB into buffers taken from a process-wide
// pool (no allocation per chunk or per request), one read ahead of the socket, each buffer
// reused only once the socket has taken its bytes. Node has no sendfile; this is the next best
// thing to it (bench: blob GET, docs/performance.md).
import type { FastifyReply } from 'fastify';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { BlobFileRange } from '../storage/blob-store.js';

const CHUNK = 1024 * 1024;
/** Free buffers kept for reuse; beyond it (many pulls at once) buffers are left to the GC. */
const POOL_MAX = 8;
const pool: Buffer[] = [];

function take(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
}

function give(buffer: Buffer): void {
  if (pool.length < POOL_MAX) pool.push(buffer);
}

/**
 * Resolves once the socket has taken `chunk` (its buffer may then be reused), or the
 * connection is gone (false; libuv has cancelled its writes by then).
 */
function write(res: ServerResponse, chunk: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const closed = () => resolve(false);
    res.once('close', closed);
    res.write(chunk, (err) => {
      res.off('close', closed);
      resolve(!err);
    });
  });
}

/**
 * Answer with the headers already set on `reply` and the bytes [start, end] of the file, then
 * close it. Errors after the headers are sent can only cut the connection, as with a stream.
 */
export async function sendFile(reply: FastifyReply, file: BlobFileRange): Promise<void> {
  const res = reply.raw;
  reply.hijack();
  res.writeHead(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders);
  const buffers = [take(), take()];
  let pending: Promise<boolean> = Promise.resolve(true);
  let position = file.start;
  let ok = true;
  try {
    for (let i = 0; position <= file.end; i ^= 1) {
      const buffer = buffers[i]!;
      const { bytesRead } = await file.handle.read(buffer, 0, Math.min(CHUNK, file.end - position + 1), position);
      if (bytesRead === 0) throw new Error('blob file is shorter than recorded');
      // The other buffer's bytes must be taken before this one is handed over (and before
      // the next read fills the other buffer again).
      if (!(await pending)) {
        ok = false;
        break;
      }
      pending = write(res, bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    if (ok && (await pending)) res.end();
    else res.destroy();
  } catch (err) {
    await pending;
    res.destroy();
    reply.log.warn({ err }, 'blob transfer cut off');
  } finally {
    for (const b of buffers) give(b);
    await file.handle.close().catch(() => undefined);
  }
}
