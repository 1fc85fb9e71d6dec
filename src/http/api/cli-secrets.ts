// Personal CLI secrets (handed out by `registry login --oidc`): a person lists and revokes
// their own under /api/v1/me/cli-secrets; an administrator does so for anyone under
// /api/v1/users/{username}/cli-secrets. The secrets themselves are never shown again.
import type { FastifyInstance } from 'fastify';
import { cliSecretView, type CliSecrets } from '../../auth/cli-secrets.js';
import { notFound, param, requireAdmin, requireUser, route, type ApiContext, type Caller } from './context.js';

export function registerCliSecretRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const secrets = ctx.cliSecrets;
  if (!secrets) return;

  const list = async (username: string) => ({ body: { secrets: (await secrets.list(username)).map(cliSecretView) } });
  const revoke = async (s: CliSecrets, username: string, id: string, caller: Caller) => {
    if (!(await s.revoke(username, id, caller.name, caller.source))) throw notFound('no such live CLI secret', { id: id.slice(0, 64) });
    return { status: 204 };
  };

  route(app, ctx, 'GET', '/me/cli-secrets', async (_ctx, _request, caller) => list(requireUser(caller).username));
  route(app, ctx, 'DELETE', '/me/cli-secrets/:id', async (_ctx, request, caller) => revoke(secrets, requireUser(caller).username, param(request, 'id'), caller));

  route(app, ctx, 'GET', '/users/:username/cli-secrets', async (_ctx, request, caller) => {
    requireAdmin(caller);
    const username = param(request, 'username');
    if (!(await ctx.access.getUser(username))) throw notFound('no such user', { username: username.slice(0, 64) });
    return list(username);
  });
  route(app, ctx, 'DELETE', '/users/:username/cli-secrets/:id', async (_ctx, request, caller) => {
    requireAdmin(caller);
    return revoke(secrets, param(request, 'username'), param(request, 'id'), caller);
  });
}
