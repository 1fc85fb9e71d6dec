// Garbage collection in the management API (administrators):
//   GET  /gc  this node's settings and its last collection (its report)
//   POST /gc {"dryRun": true|false}  collect now on this node; the report (audited when real)
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { audit, readJson, requireAdmin, route, type ApiContext } from './context.js';

const GcRunBody = z.strictObject({ dryRun: z.boolean().default(true) });

export function registerGcRoutes(app: FastifyInstance, ctx: ApiContext): void {
  route(app, ctx, 'GET', '/gc', async (_ctx, _request, caller) => {
    requireAdmin(caller);
    const last = ctx.gc.last();
    return { body: { ...ctx.gc.settings, lastRun: last ? { at: last.at.toISOString(), ...last.report } : null } };
  });

  route(app, ctx, 'POST', '/gc', async (_ctx, request, caller) => {
    requireAdmin(caller);
    const body = await readJson(request, GcRunBody);
    const report = await ctx.gc.run(body.dryRun);
    if (!body.dryRun) await audit(ctx, caller, 'gc.run', { blobsDeleted: report.blobsDeleted, bytesFreed: report.bytesFreed, manifestsDeleted: report.manifestsDeleted });
    return { body: report };
  });
}
