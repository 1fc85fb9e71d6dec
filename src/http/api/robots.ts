// Robot accounts (access tokens for CI): /api/v1/namespaces/{name}/robots for robots that act
// in one namespace (`robot$<namespace>+<name>`, managed by its owners and administrators) and
// /api/v1/robots for system-wide ones (`robot$<name>`, administrators only). The secret is
// generated here, shown once in the answer to the POST, and kept only as an argon2id hash.
// Revoking keeps the record (for the audit trail); the name stays taken. Actions are pull,
// push, delete and `scan`: the scanner's role, exempt from pull policies (it needs pull too).
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { hashSecret, ROBOT_PREFIX } from '../../auth/authenticate.js';
import { ROBOT_ACTIONS, type RobotAction, type RobotRecord } from '../../auth/model.js';
import { isValidRobotShortName, ROBOT_NAME_RULE } from '../../auth/names.js';
import { audit, badRequest, conflict, notFound, param, readJson, requireAdmin, robotView, route, type ApiContext, type Caller } from './context.js';
import { managedNamespace } from './namespaces.js';

const MAX_DAYS = 3650;

export const NewRobotBody = z
  .strictObject({
    name: z.string().refine(isValidRobotShortName, { message: `name: ${ROBOT_NAME_RULE}` }),
    actions: z
      .array(z.enum(ROBOT_ACTIONS as [RobotAction, ...RobotAction[]]))
      .min(1)
      .transform((a) => [...new Set(a)]),
    expiresAt: z.iso.datetime({ offset: true }).optional(),
    expiresInDays: z.number().int().min(1).max(MAX_DAYS).optional(),
  })
  .refine((b) => b.expiresAt === undefined || b.expiresInDays === undefined, { message: 'give expiresAt or expiresInDays, not both' });

function expiryOf(body: z.infer<typeof NewRobotBody>): Date | null {
  if (body.expiresInDays !== undefined) return new Date(Date.now() + body.expiresInDays * 86_400_000);
  if (body.expiresAt === undefined) return null;
  const at = new Date(body.expiresAt);
  if (at.getTime() <= Date.now()) throw badRequest('expiresAt is in the past');
  if (at.getTime() > Date.now() + MAX_DAYS * 86_400_000) throw badRequest(`expiresAt is more than ${MAX_DAYS} days away`);
  return at;
}

async function createRobot(ctx: ApiContext, caller: Caller, namespace: string | null, body: z.infer<typeof NewRobotBody>) {
  const name = namespace === null ? `${ROBOT_PREFIX}${body.name}` : `${ROBOT_PREFIX}${namespace}+${body.name}`;
  const expiresAt = expiryOf(body);
  const secret = randomBytes(32).toString('base64url');
  let robot: RobotRecord;
  try {
    robot = await ctx.access.createRobot({ name, namespace, secretHash: await hashSecret(secret), actions: body.actions, expiresAt, createdBy: caller.name });
  } catch {
    if (await ctx.access.getRobot(name)) throw conflict('a robot with this name exists (revoked robots keep their name)', { name });
    throw new Error('could not create the robot');
  }
  await audit(ctx, caller, 'robot.create', { robot: name, namespace, actions: robot.actions, expiresAt: expiresAt?.toISOString() ?? null });
  // The only time the secret leaves the server.
  return { status: 201, body: { ...robotView(robot), secret } };
}

async function revokeRobot(ctx: ApiContext, caller: Caller, robot: RobotRecord | undefined, given: string) {
  if (!robot) throw notFound('robot not found', { name: given.slice(0, 200) });
  if (!robot.revoked) {
    await ctx.access.revokeRobot(robot.name);
    ctx.authenticator.forget();
    await audit(ctx, caller, 'robot.revoke', { robot: robot.name, namespace: robot.namespace });
  }
  return { status: 204 };
}

export function registerRobotRoutes(app: FastifyInstance, ctx: ApiContext): void {
  route(app, ctx, 'GET', '/namespaces/:name/robots', async (_ctx, request, caller) => {
    const { namespace } = await managedNamespace(ctx, caller, param(request, 'name'));
    return { body: { robots: (await ctx.access.listRobots(namespace.name)).map(robotView) } };
  });

  route(app, ctx, 'POST', '/namespaces/:name/robots', async (_ctx, request, caller) => {
    const { namespace } = await managedNamespace(ctx, caller, param(request, 'name'));
    return createRobot(ctx, caller, namespace.name, await readJson(request, NewRobotBody));
  });

  route(app, ctx, 'DELETE', '/namespaces/:name/robots/:robot', async (_ctx, request, caller) => {
    const { namespace } = await managedNamespace(ctx, caller, param(request, 'name'));
    const given = param(request, 'robot');
    const name = given.startsWith(ROBOT_PREFIX) ? given : `${ROBOT_PREFIX}${namespace.name}+${given}`;
    const robot = await ctx.access.getRobot(name);
    return revokeRobot(ctx, caller, robot?.namespace === namespace.name ? robot : undefined, given);
  });

  route(app, ctx, 'GET', '/robots', async (_ctx, _request, caller) => {
    requireAdmin(caller);
    return { body: { robots: (await ctx.access.listRobots(null)).map(robotView) } };
  });

  route(app, ctx, 'POST', '/robots', async (_ctx, request, caller) => {
    requireAdmin(caller);
    return createRobot(ctx, caller, null, await readJson(request, NewRobotBody));
  });

  route(app, ctx, 'DELETE', '/robots/:robot', async (_ctx, request, caller) => {
    requireAdmin(caller);
    const given = param(request, 'robot');
    const robot = await ctx.access.getRobot(given.startsWith(ROBOT_PREFIX) ? given : `${ROBOT_PREFIX}${given}`);
    return revokeRobot(ctx, caller, robot?.namespace === null ? robot : undefined, given);
  });
}
