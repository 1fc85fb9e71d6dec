// Supply-chain settings in the management API:
//   /namespaces/{name}/signing-keys[/{id}]  public keys cosign signatures are verified against
//     (members read them; owners and administrators add and remove them)
//   /namespaces/{name}/pull-policy          signature requirement, vulnerability threshold and
//     allow-listed advisories (members read; owners and administrators set)
//   /repositories/{name}/signatures/{digest} the signatures found for a manifest, cosign ones
//     verified (anyone who may pull the repository; routed from policies.ts)
// Every change goes to the audit log and drops the cached pull decisions of this node.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseDigest } from '../../registry/digest.js';
import { SEVERITIES, type PullPolicy, type Severity, type SigningKey } from '../../metadata/signing-store.js';
import { keyFingerprint, parsePublicKey } from '../../signing/keys.js';
import type { FoundSignature, SignatureService } from '../../signing/signatures.js';
import { audit, badRequest, conflict, notFound, param, readJson, route, type ApiContext, type Caller } from './context.js';
import { managedNamespace } from './namespaces.js';
import { memberNamespace } from './policies.js';

export const NewSigningKeyBody = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, { message: 'name: 1 to 64 letters, digits, _ . - (starting with a letter or digit)' }),
  publicKey: z.string().min(1).max(16 * 1024),
});

export const PullPolicyBody = z.strictObject({
  requireSignature: z.boolean().default(false),
  blockSeverity: z.enum(SEVERITIES as [Severity, ...Severity[]]).nullable().default(null),
  allowAdvisories: z
    .array(z.string().min(1).max(255))
    .max(1000)
    .default([])
    .transform((a) => [...new Set(a)]),
});

function keyView(key: SigningKey) {
  const info = parsePublicKey(key.publicKey);
  return {
    id: key.id,
    namespace: key.namespace,
    name: key.name,
    algorithm: typeof info === 'string' ? null : info.algorithm,
    fingerprint: typeof info === 'string' ? null : `sha256:${keyFingerprint(info)}`,
    publicKey: key.publicKey,
    createdBy: key.createdBy,
    createdAt: key.createdAt.toISOString(),
  };
}

function policyView(namespace: string, policy: PullPolicy | undefined) {
  return {
    namespace,
    requireSignature: policy?.requireSignature ?? false,
    blockSeverity: policy?.blockSeverity ?? null,
    allowAdvisories: policy?.allowAdvisories ?? [],
    updatedBy: policy?.updatedBy ?? null,
    updatedAt: policy?.updatedAt.toISOString() ?? null,
  };
}

function signatureView(s: FoundSignature) {
  return {
    kind: s.kind,
    digest: s.manifestDigest,
    artifactType: s.artifactType,
    ...(s.payloadDigest !== undefined ? { payloadDigest: s.payloadDigest } : {}),
    ...(s.verified !== undefined ? { verified: s.verified } : {}),
    ...(s.key ? { key: s.key } : {}),
    ...(s.reason !== undefined ? { reason: s.reason } : {}),
  };
}

/** GET /repositories/{name}/signatures/{digest} (routed by browse.ts, which checks pull permission). */
export async function signatureListing(service: SignatureService, repository: string, digest: string) {
  let subject: string;
  try {
    subject = parseDigest(digest).value;
  } catch {
    throw badRequest('invalid digest', { digest: digest.slice(0, 256) });
  }
  const signatures = await service.list(repository, subject);
  return { body: { repository, digest: subject, signatures: signatures.map(signatureView) } };
}

export function registerSigningRoutes(app: FastifyInstance, ctx: ApiContext): void {
  route(app, ctx, 'GET', '/namespaces/:name/signing-keys', async (_ctx, request, caller) => {
    const namespace = await memberNamespace(ctx, caller, param(request, 'name'));
    return { body: { keys: (await ctx.signing.listKeys(namespace)).map(keyView) } };
  });

  route(app, ctx, 'POST', '/namespaces/:name/signing-keys', async (_ctx, request, caller) => {
    const { namespace } = await managedNamespace(ctx, caller, param(request, 'name'));
    const body = await readJson(request, NewSigningKeyBody);
    const info = parsePublicKey(body.publicKey);
    if (typeof info === 'string') throw badRequest(`invalid public key: ${info}`, { name: body.name });
    const existing = await ctx.signing.listKeys(namespace.name);
    if (existing.some((k) => k.name === body.name)) throw conflict('the namespace has a key of this name already', { namespace: namespace.name, name: body.name });
    const key = await ctx.signing.addKey({ namespace: namespace.name, name: body.name, publicKey: body.publicKey, createdBy: caller.name });
    ctx.pullPolicies.forget();
    const view = keyView(key);
    await audit(ctx, caller, 'signing-key.create', { namespace: namespace.name, name: key.name, id: key.id, algorithm: view.algorithm, fingerprint: view.fingerprint });
    return { status: 201, body: view, headers: { Location: `/api/v1/namespaces/${namespace.name}/signing-keys/${key.id}` } };
  });

  route(app, ctx, 'DELETE', '/namespaces/:name/signing-keys/:id', async (_ctx, request, caller) => {
    const { namespace } = await managedNamespace(ctx, caller, param(request, 'name'));
    const key = await ctx.signing.deleteKey(namespace.name, param(request, 'id'));
    if (!key) throw notFound('signing key not found', { namespace: namespace.name, id: param(request, 'id').slice(0, 64) });
    ctx.pullPolicies.forget();
    await audit(ctx, caller, 'signing-key.delete', { namespace: namespace.name, name: key.name, id: key.id });
    return { status: 204 };
  });

  route(app, ctx, 'GET', '/namespaces/:name/pull-policy', async (_ctx, request, caller) => {
    const namespace = await memberNamespace(ctx, caller, param(request, 'name'));
    return { body: policyView(namespace, await ctx.signing.getPullPolicy(namespace)) };
  });

  route(app, ctx, 'PUT', '/namespaces/:name/pull-policy', async (_ctx, request, caller) => {
    const { namespace } = await managedNamespace(ctx, caller, param(request, 'name'));
    const body = await readJson(request, PullPolicyBody);
    const previous = await ctx.signing.getPullPolicy(namespace.name);
    const policy = await ctx.signing.setPullPolicy({ namespace: namespace.name, ...body, updatedBy: caller.name });
    ctx.pullPolicies.forget();
    const { updatedBy: _by, updatedAt: _at, namespace: _ns, ...before } = policyView(namespace.name, previous);
    await audit(ctx, caller, 'pull-policy.set', { namespace: namespace.name, ...body, previous: previous ? before : null });
    return { body: policyView(namespace.name, policy) };
  });
}
