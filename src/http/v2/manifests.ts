// GET / HEAD / PUT / DELETE /v2/<name>/manifests/<reference>.
import type { FastifyRequest } from 'fastify';
import { contentLength, type V2Handler } from './context.js';
import { requestBody } from '../request-body.js';
import { RegistryError } from '../../registry/errors.js';
import { parseAccept } from '../../registry/media-types.js';
import { actorName } from '../../auth/model.js';
import type { RequestInfo } from '../../events/model.js';
import { requestHost, type RequestAccess } from '../guard.js';

/** The request as events describe it (Distribution's `request` object, plus our base URL). */
function requestInfo(request: FastifyRequest): RequestInfo {
  return {
    id: String(request.id),
    addr: request.ip,
    host: requestHost(request),
    method: request.method,
    useragent: request.headers['user-agent'] ?? '',
    baseUrl: `${request.protocol}://${requestHost(request)}`,
  };
}

function origin(request: FastifyRequest, access: RequestAccess) {
  return { actor: actorName(access.identity), request: requestInfo(request) };
}

function tooLarge(limit: number): RegistryError {
  // Connection: close, so the rest of the body is not read (nor waited for) after the answer.
  return new RegistryError('SIZE_INVALID', `manifest exceeds the ${limit} byte limit`, { limit }, { status: 413, headers: { Connection: 'close' } });
}

/** Read a manifest body, refusing it as soon as it passes the limit. */
async function readLimited(request: FastifyRequest, limit: number): Promise<Buffer> {
  const declared = contentLength(request);
  if (declared !== undefined && declared > limit) throw tooLarge(limit);
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of requestBody(request, 'MANIFEST_INVALID')) {
    total += (chunk as Buffer).length;
    if (total > limit) throw tooLarge(limit);
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts, total);
}

export const getManifest: V2Handler = async (ctx, request, reply, { name, reference }, access) => {
  const pull = request.method === 'GET';
  await ctx.proxy?.refreshManifest(name!, reference!);
  const manifest = await ctx.manifests.get(name!, reference!, parseAccept(request.headers.accept), { countPull: pull, identity: access.identity, ...(pull ? { origin: origin(request, access) } : {}) });
  reply
    .code(200)
    .header('Content-Type', manifest.mediaType)
    .header('Docker-Content-Digest', manifest.digest)
    .header('ETag', `"${manifest.digest}"`)
    .header('Content-Length', manifest.content.length);
  reply.send(request.method === 'HEAD' ? undefined : manifest.content);
};

export const putManifest: V2Handler = async (ctx, request, reply, { name, reference }, access) => {
  const body = await readLimited(request, ctx.manifestMaxBytes);
  const pushed = await ctx.manifests.put(name!, reference!, body, request.headers['content-type'], actorName(access.identity), requestInfo(request));
  reply.code(201).header('Location', `/v2/${name}/manifests/${pushed.digest}`).header('Docker-Content-Digest', pushed.digest).header('Content-Length', 0);
  if (pushed.subject) reply.header('OCI-Subject', pushed.subject);
  reply.send();
};

export const deleteManifest: V2Handler = async (ctx, request, reply, { name, reference }, access) => {
  await ctx.manifests.delete(name!, reference!, origin(request, access));
  reply.code(202).header('Content-Length', 0).send();
};
