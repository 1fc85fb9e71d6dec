// Promotion in the management API:
//   POST /promote {"source":{"repository","reference"},"target":{"repository","tag"?},"move"?}
// copies an image with its platforms and referrers to another repository (no bytes moved).
// Takes pull on the source (delete too for a move) and push on the target; audited.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isValidName } from '../../registry/names.js';
import { audit, denied, notFound, readJson, route, type ApiContext } from './context.js';

const Repository = z.string().refine(isValidName, { message: 'not a repository name' });
export const PromoteBody = z.strictObject({
  source: z.strictObject({ repository: Repository, reference: z.string().min(1).max(200) }),
  target: z.strictObject({ repository: Repository, tag: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/).optional() }),
  move: z.boolean().default(false),
});

export function registerPromotionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  route(app, ctx, 'POST', '/promote', async (_ctx, request, caller) => {
    const body = await readJson(request, PromoteBody);
    const source = await ctx.policy.allowedActions(caller.identity, body.source.repository);
    if (!source.has('pull')) throw notFound('repository not found', { repository: body.source.repository });
    if (body.move && !source.has('delete')) throw denied('moving takes delete permission on the source repository', { repository: body.source.repository });
    const target = await ctx.policy.allowedActions(caller.identity, body.target.repository);
    if (!target.has('push')) throw denied('promotion takes push permission on the target repository', { repository: body.target.repository });
    const result = await ctx.promotion.promote({
      sourceRepository: body.source.repository,
      reference: body.source.reference,
      targetRepository: body.target.repository,
      ...(body.target.tag !== undefined ? { targetTag: body.target.tag } : {}),
      move: body.move,
      actor: caller.name,
    });
    await audit(ctx, caller, 'promote', { source: body.source, target: { repository: result.targetRepository, tag: result.targetTag }, move: result.moved, manifests: result.manifests.length, blobs: result.blobs }, {
      repository: result.targetRepository,
      reference: result.targetTag,
      digest: result.digest,
    });
    return { status: 201, body: result };
  });
}
