// `registry login --oidc <registry-url>`: log in through the registry's single sign-on from a
// terminal. The registry runs the handshake (like the OAuth device flow): this command asks
// for a login, prints the URL to open in a browser and a code to compare, polls until the
// browser flow is done, then prints the personal CLI secret to use as the password of
// `docker login`, skopeo or Basic auth (and writes it to a file with --secret-file).
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';

interface LoginFlags {
  oidc?: string;
  label?: string;
  secretFile?: string;
  json?: boolean;
}

interface StartedLogin {
  id: string;
  pollToken: string;
  userCode: string;
  loginUrl: string;
  expiresAt: string;
  intervalSeconds: number;
}

interface Finished {
  status: 'done';
  username: string;
  secret: string;
  secretId: string;
  expiresAt: string;
}

/** The message of the registry's error body, or the status line. */
async function failure(res: Response, what: string): Promise<Error> {
  const text = await res.text();
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = JSON.parse(text) as { errors?: { message?: string }[] };
    message = body.errors?.[0]?.message ?? message;
  } catch {
    // not JSON: the status line says enough
  }
  return new Error(`${what}: ${message}`);
}

async function postJson(url: URL, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
}

export function loginCommand(): Command {
  return new Command('login')
    .description('log in to a registry through its single sign-on (OIDC) and get a personal CLI secret for docker login')
    .requiredOption('--oidc <url>', 'the registry, e.g. https://registry.example.com')
    .option('--label <label>', 'what to call the secret', `registry login on ${hostname()}`)
    .option('--secret-file <path>', 'also write the secret to this file (mode 0600)')
    .option('--json', 'print the result as JSON')
    .action(async (flags: LoginFlags) => {
      const base = new URL(flags.oidc!);
      const started = await postJson(new URL('/api/v1/oidc/cli-logins', base), { label: flags.label });
      if (started.status !== 201) throw await failure(started, 'the registry refused to start a login');
      const login = (await started.json()) as StartedLogin;
      process.stderr.write(`Open this URL in a browser and sign in:\n\n  ${login.loginUrl}\n\nThe page shows this code when you are done: ${login.userCode}\nWaiting...\n`);
      const deadline = new Date(login.expiresAt).getTime();
      const pollUrl = new URL(`/api/v1/oidc/cli-logins/${encodeURIComponent(login.id)}/poll`, base);
      let finished: Finished | undefined;
      // Bounded by the login's expiry, which the registry enforces too.
      while (!finished && Date.now() < deadline) {
        await sleep(Math.max(1, login.intervalSeconds) * 1000);
        const res = await postJson(pollUrl, { pollToken: login.pollToken });
        if (res.status === 202) {
          await res.arrayBuffer();
          continue;
        }
        if (res.status !== 200) throw await failure(res, 'the login failed');
        finished = (await res.json()) as Finished;
      }
      if (!finished) throw new Error('the login expired before the browser finished it; run the command again');
      if (flags.secretFile) await writeFile(flags.secretFile, `${finished.secret}\n`, { mode: 0o600 });
      if (flags.json) {
        console.log(JSON.stringify({ username: finished.username, secret: finished.secret, secretId: finished.secretId, expiresAt: finished.expiresAt }));
        return;
      }
      console.log(`Logged in as ${finished.username}. Your CLI secret (valid until ${finished.expiresAt}):\n\n${finished.secret}\n`);
      console.log(`Use it as the password, e.g.: docker login ${base.host} -u ${finished.username} --password-stdin`);
    });
}
