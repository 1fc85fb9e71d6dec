// `registry user add|enable|disable|list|import-htpasswd`: manage accounts straight in the
// metadata database (the registry may be running). Passwords are stored as argon2id hashes;
// imported htpasswd bcrypt hashes are kept as they are and verified at login.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { hashSecret } from '../auth/authenticate.js';
import { parseHtpasswd } from '../auth/htpasswd.js';
import { isValidUsername, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, USERNAME_RULE } from '../auth/names.js';
import type { AccessStore } from '../metadata/access-store.js';
import { CLI_ACTOR, withAccessStore } from './access.js';
import { withConfigFlags, type ConfigFlags } from './options.js';

export async function readStdin(): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of process.stdin) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

function checkUsername(username: string): void {
  if (!isValidUsername(username)) throw new Error(`invalid username "${username}": ${USERNAME_RULE}`);
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new Error(`the password must have ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`);
  }
}

/** Enabling or disabling; the last administrator able to log in is never disabled. */
async function setDisabled(access: AccessStore, username: string, disabled: boolean): Promise<boolean> {
  const user = await access.getUser(username);
  if (!user) throw new Error(`no user ${username}`);
  if (disabled && user.admin && !user.disabled && (await access.countAdmins()) <= 1) {
    throw new Error(`${username} is the last administrator; make another one first`);
  }
  if (user.disabled === disabled) return false;
  await access.updateUser(username, { disabled });
  return true;
}

export function userCommand(): Command {
  const user = new Command('user').description('manage user accounts (access control)');

  user.addCommand(
    withConfigFlags(new Command('add').description('create a user; without a password option a random one is generated and printed'))
      .argument('<username>')
      .option('--admin', 'make the user an administrator')
      .option('--password-stdin', 'read the password from standard input')
      .option('--password <password>', 'the password (visible to other local users; prefer --password-stdin)')
      .action(async (username: string, flags: ConfigFlags & { admin?: boolean; passwordStdin?: boolean; password?: string }) => {
        checkUsername(username);
        if (flags.passwordStdin && flags.password !== undefined) throw new Error('give --password-stdin or --password, not both');
        let password = flags.password;
        if (flags.passwordStdin) password = (await readStdin()).replace(/\r?\n$/, '');
        const generated = password === undefined;
        password ??= randomBytes(18).toString('base64url');
        checkPassword(password);
        await withAccessStore(flags, async (access, auditor) => {
          if (await access.getUser(username)) throw new Error(`user ${username} exists`);
          await access.createUser({ username, passwordHash: await hashSecret(password), admin: flags.admin === true });
          await auditor.record({ actor: CLI_ACTOR, action: 'user.create', detail: { username, admin: flags.admin === true, from: 'cli' } });
        });
        console.log(`created ${flags.admin ? 'administrator' : 'user'} ${username}`);
        if (generated) console.log(`password: ${password}`);
      }),
  );

  for (const [name, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    user.addCommand(
      withConfigFlags(new Command(name).description(disabled ? 'stop a user from logging in (their data and memberships stay)' : 'let a disabled user log in again'))
        .argument('<username>')
        .action(async (username: string, flags: ConfigFlags) => {
          const changed = await withAccessStore(flags, async (access, auditor) => {
            const changed = await setDisabled(access, username, disabled);
            if (changed) await auditor.record({ actor: CLI_ACTOR, action: 'user.update', detail: { username, disabled, from: 'cli' } });
            return changed;
          });
          console.log(changed ? `${name}d ${username}` : `${username} was already ${name}d`);
        }),
    );
  }

  user.addCommand(
    withConfigFlags(new Command('list').description('list users'))
      .option('--json', 'print JSON')
      .action(async (flags: ConfigFlags & { json?: boolean }) => {
        const users = await withAccessStore(flags, (access) => access.listUsers());
        const rows = users.map((u) => ({ username: u.username, admin: u.admin, disabled: u.disabled, createdAt: u.createdAt.toISOString() }));
        if (flags.json) {
          console.log(JSON.stringify(rows, null, 2));
          return;
        }
        const width = Math.max(8, ...rows.map((r) => r.username.length));
        console.log(`${'USERNAME'.padEnd(width)}  ADMIN  DISABLED  CREATED`);
        for (const r of rows) console.log(`${r.username.padEnd(width)}  ${(r.admin ? 'yes' : 'no').padEnd(5)}  ${(r.disabled ? 'yes' : 'no').padEnd(8)}  ${r.createdAt}`);
      }),
  );

  user.addCommand(
    withConfigFlags(
      new Command('import-htpasswd').description(
        'create users from an htpasswd file; only bcrypt hashes ($2y$, $2a$, $2b$: htpasswd -B) are supported, other lines are reported and skipped (exit status 1)',
      ),
    )
      .argument('<file>')
      .action(async (file: string, flags: ConfigFlags) => {
        const { entries, problems } = parseHtpasswd(await readFile(file, 'utf8'));
        let imported = 0;
        let existing = 0;
        await withAccessStore(flags, async (access, auditor) => {
          for (const entry of entries) {
            if (!isValidUsername(entry.username)) {
              problems.push({ line: entry.line, username: entry.username, reason: `invalid username: ${USERNAME_RULE}` });
              continue;
            }
            if (await access.getUser(entry.username)) {
              existing++;
              console.log(`skipped ${entry.username}: the user exists`);
              continue;
            }
            await access.createUser({ username: entry.username, passwordHash: entry.hash, admin: false });
            await auditor.record({ actor: CLI_ACTOR, action: 'user.create', detail: { username: entry.username, admin: false, from: 'htpasswd' } });
            imported++;
          }
        });
        problems.sort((a, b) => a.line - b.line);
        for (const p of problems) console.error(`${file}:${p.line}${p.username !== undefined ? ` (${p.username})` : ''}: skipped: ${p.reason}`);
        console.log(`imported ${imported} user(s)${existing ? `, ${existing} existed already` : ''}${problems.length ? `, ${problems.length} line(s) skipped` : ''}`);
        if (problems.length) process.exitCode = 1;
      }),
  );

  return user;
}
