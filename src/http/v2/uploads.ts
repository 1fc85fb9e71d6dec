// /v2/<name>/blobs/uploads/: start (with monolithic ?digest= and ?mount=&from=), PATCH
// chunks, PUT to close, GET status, DELETE to cancel. Bodies stream straight to the store.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { contentLength, hasBody, queryValue, type V2Handler } from './context.js';
import { requestBody } from '../request-body.js';
import { uploadRange, type ChunkRequest } from '../../registry/blobs.js';
import type { UploadSessionRecord } from '../../metadata/store.js';
import { RegistryError } from '../../registry/errors.js';
import { parseContentRange } from '../../registry/ranges.js';
import { isValidName } from '../../registry/names.js';

function uploadLocation(name: string, id: string): string {
  return `/v2/${name}/blobs/uploads/${id}`;
}

function sendSession(reply: FastifyReply, status: number, session: UploadSessionRecord): void {
  reply
    .code(status)
    .header('Location', uploadLocation(session.repository, session.id))
    .header('Range', uploadRange(session))
    .header('Docker-Upload-UUID', session.id)
    .header('Blob-Upload-Session-ID', session.id)
    .header('Content-Length', 0)
    .send();
}

function sendCreated(reply: FastifyReply, name: string, digest: string): void {
  reply.code(201).header('Location', `/v2/${name}/blobs/${digest}`).header('Docker-Content-Digest', digest).header('Content-Length', 0).send();
}

function chunkOf(request: FastifyRequest): ChunkRequest {
  const chunk: ChunkRequest = { body: requestBody(request, 'BLOB_UPLOAD_INVALID') };
  const length = contentLength(request);
  if (length !== undefined) chunk.length = length;
  const header = request.headers['content-range'];
  if (header !== undefined) {
    const range = parseContentRange(header);
    if (!range) throw new RegistryError('BLOB_UPLOAD_INVALID', 'malformed Content-Range', { contentRange: header.slice(0, 100) }, { status: 416 });
    chunk.range = range;
  }
  return chunk;
}

export const startUpload: V2Handler = async (ctx, request, reply, { name }, access) => {
  const mount = queryValue(request, 'mount');
  const from = queryValue(request, 'from');
  // A mount needs pull on the source; without it the client gets an ordinary upload, which
  // says nothing about whether the blob exists there.
  if (mount !== undefined && from !== undefined && isValidName(from) && (await access.allows(from, 'pull'))) {
    const mounted = await ctx.blobs.mount(name!, mount, from);
    if (mounted) return sendCreated(reply, name!, mounted.digest.value);
  }
  const digest = queryValue(request, 'digest');
  if (digest !== undefined) {
    const blob = await ctx.blobs.putMonolithic(name!, digest, chunkOf(request));
    return sendCreated(reply, name!, blob.digest.value);
  }
  const session = await ctx.blobs.startUpload(name!);
  sendSession(reply, 202, session);
};

export const uploadStatus: V2Handler = async (ctx, _request, reply, { name, uploadId }) => {
  const session = await ctx.blobs.getUpload(name!, uploadId!);
  sendSession(reply, 204, session);
};

export const patchUpload: V2Handler = async (ctx, request, reply, { name, uploadId }) => {
  const session = await ctx.blobs.appendChunk(name!, uploadId!, chunkOf(request));
  sendSession(reply, 202, session);
};

export const completeUpload: V2Handler = async (ctx, request, reply, { name, uploadId }) => {
  const chunk = hasBody(request) ? chunkOf(request) : undefined;
  const blob = await ctx.blobs.complete(name!, uploadId!, queryValue(request, 'digest'), chunk);
  sendCreated(reply, name!, blob.digest.value);
};

export const cancelUpload: V2Handler = async (ctx, _request, reply, { name, uploadId }) => {
  await ctx.blobs.cancel(name!, uploadId!);
  reply.code(204).header('Content-Length', 0).send();
};
