// Image scans in the management API:
//   GET  /scan?repository=&reference=[&severity=HIGH][&packages=true]  status, summary and findings
//        of an image (an index: each platform's), for anyone who may pull the repository
//   POST /scan {"repository","reference"}  queue a scan now (push permission or administrator)
//   GET  /sbom?repository=&reference=&format=cyclonedx|spdx  the image's SBOM from its inventory
//   GET  /scans/queue  queue and vulnerability database state (administrators)
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isValidName } from '../../registry/names.js';
import type { ScanResultRecord, Severity } from '../../metadata/scan-store.js';
import { imageContent } from '../../registry/image-content.js';
import type { Finding } from '../../scan/vuln/match.js';
import type { Inventory } from '../../scan/model.js';
import { exportSbom } from '../../scan/sbom.js';
import { denied, notFound, readJson, readQuery, requireAdmin, route, type ApiContext, type Caller } from './context.js';

const SEVERITY_ORDER: Severity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'];
const Reference = z.string().min(1).max(200);
const Repository = z.string().refine(isValidName, { message: 'not a repository name' });

const ScanQuery = z.strictObject({
  repository: Repository,
  reference: Reference,
  severity: z.enum(['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN']).optional(),
  packages: z.enum(['true', 'false']).optional(),
});
const SbomQuery = z.strictObject({ repository: Repository, reference: Reference, format: z.enum(['cyclonedx', 'spdx']).default('cyclonedx') });
const ScanRequest = z.strictObject({ repository: Repository, reference: Reference });

async function requireAction(ctx: ApiContext, caller: Caller, repository: string, action: 'pull' | 'push') {
  const allowed = await ctx.policy.allowedActions(caller.identity, repository);
  // Repositories the caller may not pull do not exist for them.
  if (!allowed.has('pull')) throw notFound('repository not found', { repository });
  if (action === 'push' && !allowed.has('push') && !caller.admin) throw denied('queuing a scan takes push permission on the repository', { repository });
}

async function resolve(ctx: ApiContext, repository: string, reference: string) {
  const record = await ctx.scans.manifest(repository, reference);
  if (!record) throw notFound('manifest not found', { repository, reference });
  return record;
}

async function imageStatus(ctx: ApiContext, digest: string, severity: Severity | undefined, withPackages: boolean) {
  const [result, job] = await Promise.all([ctx.scans.store.getResult(digest), ctx.scans.store.getJob(digest)]);
  const state = job ? (job.worker ? 'running' : 'queued') : (result?.status ?? 'not scanned');
  return { digest, status: state, ...(job?.lastError ? { lastError: job.lastError } : {}), ...(result ? resultView(result, severity, withPackages) : {}) };
}

function resultView(r: ScanResultRecord, severity: Severity | undefined, withPackages: boolean) {
  const cut = severity ? SEVERITY_ORDER.indexOf(severity) : SEVERITY_ORDER.length;
  const findings = r.findings ? (JSON.parse(r.findings) as Finding[]).filter((f) => SEVERITY_ORDER.indexOf(f.severity) <= cut) : [];
  const inventory = r.inventory ? (JSON.parse(r.inventory) as Inventory) : undefined;
  return {
    result: r.status,
    scannedAt: r.scannedAt.toISOString(),
    vulndbVersion: r.vulndbVersion,
    summary: r.summary,
    ...(r.error ? { error: r.error } : {}),
    ...(inventory?.os ? { os: inventory.os } : {}),
    findings,
    ...(withPackages && inventory ? { packages: inventory.packages } : {}),
  };
}

export function registerScanRoutes(app: FastifyInstance, ctx: ApiContext): void {
  route(app, ctx, 'GET', '/scan', async (_ctx, request, caller) => {
    const q = readQuery(request, ScanQuery);
    await requireAction(ctx, caller, q.repository, 'pull');
    const record = await resolve(ctx, q.repository, q.reference);
    const content = imageContent(record.content);
    const withPackages = q.packages === 'true';
    if (content.kind === 'index') {
      const platforms = [];
      for (const child of content.children) platforms.push(await imageStatus(ctx, child, q.severity, withPackages));
      return { body: { repository: q.repository, digest: record.digest, kind: 'index', platforms } };
    }
    if (content.kind === 'artifact') return { body: { repository: q.repository, digest: record.digest, kind: 'artifact', status: 'not scanned' } };
    return { body: { repository: q.repository, kind: 'image', ...(await imageStatus(ctx, record.digest, q.severity, withPackages)) } };
  });

  route(app, ctx, 'POST', '/scan', async (_ctx, request, caller) => {
    const body = await readJson(request, ScanRequest);
    await requireAction(ctx, caller, body.repository, 'push');
    const record = await resolve(ctx, body.repository, body.reference);
    const queued = await ctx.scans.enqueue(body.repository, record.digest, 'manual');
    return { status: 202, body: { repository: body.repository, digest: record.digest, queued } };
  });

  route(app, ctx, 'GET', '/sbom', async (_ctx, request, caller) => {
    const q = readQuery(request, SbomQuery);
    await requireAction(ctx, caller, q.repository, 'pull');
    const record = await resolve(ctx, q.repository, q.reference);
    const result = await ctx.scans.store.getResult(record.digest);
    if (!result?.inventory) throw notFound('the image has not been scanned (or is not an image)', { repository: q.repository, digest: record.digest });
    const sbom = exportSbom(q.format, JSON.parse(result.inventory) as Inventory, {
      repository: q.repository,
      digest: record.digest,
      ...(q.reference.includes(':') ? {} : { tag: q.reference }),
    }, { created: result.scannedAt });
    return { body: JSON.parse(sbom.bytes.toString('utf8')) as unknown, headers: { 'X-Sbom-Media-Type': sbom.mediaType } };
  });

  route(app, ctx, 'GET', '/scans/queue', async (_ctx, _request, caller) => {
    requireAdmin(caller);
    const [queue, db] = await Promise.all([ctx.scans.store.queueStats(), ctx.scans.vulnState()]);
    return {
      body: {
        queue: { ...queue, oldestEnqueuedAt: queue.oldestEnqueuedAt?.toISOString() ?? null },
        vulnerabilityDatabase: { ...db, changedAt: db.changedAt?.toISOString() ?? null, lastImportAt: db.lastImportAt?.toISOString() ?? null },
      },
    };
  });
}
