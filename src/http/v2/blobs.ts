// GET / HEAD / DELETE /v2/<name>/blobs/<digest>: layer and config pulls, with Range support.
import type { FastifyReply } from 'fastify';
import type { Readable } from 'node:stream';
import type { V2Handler } from './context.js';
import { RegistryError } from '../../registry/errors.js';
import { parseRangeHeader } from '../../registry/ranges.js';
import { sendFile } from '../send-file.js';

export const getBlob: V2Handler = async (ctx, request, reply, { name, digest }) => {
  const proxied = ctx.proxy?.covers(name!) ? await ctx.proxy.blob(name!, digest!, request.method === 'GET') : undefined;
  if (proxied?.kind === 'upstream') {
    sendFromUpstream(reply, proxied.digest, proxied.size, proxied.stream);
    return;
  }
  const blob = proxied?.blob ?? (await ctx.blobs.stat(name!, digest!));
  if (request.method === 'GET') {
    const redirect = await ctx.blobs.redirectUrl(blob);
    if (redirect) {
      reply.code(307).header('Location', redirect).header('Docker-Content-Digest', blob.digest.value).header('Content-Length', 0).send();
      return;
    }
  }
  reply
    .header('Docker-Content-Digest', blob.digest.value)
    .header('Content-Type', 'application/octet-stream')
    .header('Accept-Ranges', 'bytes')
    .header('ETag', `"${blob.digest.value}"`)
    .header('Cache-Control', 'max-age=31536000');
  const rangeHeader = request.headers.range;
  const range = rangeHeader ? parseRangeHeader(rangeHeader, blob.size) : undefined;
  if (range === 'unsatisfiable') {
    throw new RegistryError('RANGE_INVALID', undefined, { size: blob.size }, { headers: { 'Content-Range': `bytes */${blob.size}` } });
  }
  if (range) {
    reply.code(206).header('Content-Range', `bytes ${range.start}-${range.end}/${blob.size}`).header('Content-Length', range.end - range.start + 1);
  } else {
    reply.code(200).header('Content-Length', blob.size);
  }
  if (request.method === 'HEAD') {
    reply.send();
    return;
  }
  const file = await ctx.blobs.openFile(blob, range);
  if (file) await sendFile(reply, file);
  else reply.send(await ctx.blobs.open(blob, range));
};

/** A blob the pull-through cache is fetching (GET) or that only its upstream has (HEAD): no ranges, the whole blob. */
function sendFromUpstream(reply: FastifyReply, digest: string, size: number, stream: Readable | undefined): void {
  reply.code(200).header('Docker-Content-Digest', digest).header('Content-Type', 'application/octet-stream');
  if (size >= 0) reply.header('Content-Length', size);
  if (!stream) {
    reply.send();
    return;
  }
  // A client that goes away releases the fetch, which goes on into the store.
  reply.raw.once('close', () => {
    if (!stream.readableEnded) stream.destroy();
  });
  reply.send(stream);
}

export const deleteBlob: V2Handler = async (ctx, _request, reply, { name, digest }) => {
  await ctx.blobs.delete(name!, digest!);
  reply.code(202).header('Content-Length', 0).send();
};
