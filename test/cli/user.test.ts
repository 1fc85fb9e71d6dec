// `registry user add|list|disable|enable|import-htpasswd`, run as the compiled CLI against the
// data of a running registry with access control on.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import type { TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, basic, expect, startAuthRegistry, type Credentials } from '../helpers/api.js';
import { runCli, type CliResult } from '../helpers/cli.js';

function ok(res: CliResult): CliResult {
  assert.equal(res.code, 0, `exit ${res.code}\nstdout: ${res.stdout}\nstderr: ${res.stderr}`);
  return res;
}

async function v2Status(reg: TestRegistry, who: Credentials): Promise<number> {
  const res = await fetch(`${reg.url}/v2/`, { headers: { Authorization: basic(who) } });
  await res.arrayBuffer();
  return res.status;
}

describe('registry user', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startAuthRegistry();
  });
  after(async () => {
    await reg.close();
  });

  test('user add (password from stdin), then Basic login on /v2 works', async () => {
    const res = ok(await runCli(reg, ['user', 'add', 'bob', '--password-stdin'], { stdin: 'bob-password-1\n' }));
    assert.match(res.stdout, /created user bob/);
    assert.ok(!res.stdout.includes('bob-password-1'));
    assert.equal(await v2Status(reg, { username: 'bob', password: 'bob-password-1' }), 200);
    assert.equal(await v2Status(reg, { username: 'bob', password: 'bob-password-1\n' }), 401);
  });

  test('user add --admin --password, and a generated password when none is given', async () => {
    ok(await runCli(reg, ['user', 'add', 'root2', '--admin', '--password', 'root2-password-1']));
    expect(await api(reg, 'GET', '/users', { as: { username: 'root2', password: 'root2-password-1' } }), 200);
    const generated = ok(await runCli(reg, ['user', 'add', 'gina']));
    const password = /password: (\S+)/.exec(generated.stdout)?.[1];
    assert.ok(password && password.length >= 16);
    assert.equal(await v2Status(reg, { username: 'gina', password }), 200);
  });

  test('user add refuses existing users, bad names, short passwords and conflicting options', async () => {
    for (const args of [
      ['user', 'add', 'bob', '--password', 'another-pass-1'],
      ['user', 'add', 'Not Valid', '--password', 'another-pass-1'],
      ['user', 'add', 'shorty', '--password', 'short'],
      ['user', 'add', 'both', '--password', 'another-pass-1', '--password-stdin'],
    ]) {
      const res = await runCli(reg, args, { stdin: 'another-pass-1\n' });
      assert.equal(res.code, 1, `${args.join(' ')}: ${res.stdout} ${res.stderr}`);
      assert.ok(res.stderr.trim().length > 0);
      assert.doesNotMatch(res.stderr, /at .*\.js:\d+/, 'no stack trace');
    }
  });

  test('user list shows users, as a table or JSON, without hashes', async () => {
    const table = ok(await runCli(reg, ['user', 'list']));
    assert.match(table.stdout, /^USERNAME\s+ADMIN\s+DISABLED\s+CREATED/);
    assert.match(table.stdout, /\nbob\s+no\s+no\s/);
    const json = ok(await runCli(reg, ['user', 'list', '--json']));
    const users = JSON.parse(json.stdout) as { username: string; admin: boolean; disabled: boolean }[];
    assert.deepEqual(
      users.map((u) => [u.username, u.admin, u.disabled]),
      [
        ['admin', true, false],
        ['bob', false, false],
        ['gina', false, false],
        ['root2', true, false],
      ],
    );
    assert.doesNotMatch(json.stdout + table.stdout, /argon2|\$2[aby]\$|hash/i);
  });

  test('user disable stops logins, enable lets them in again; both are audited', async () => {
    const bob = { username: 'bob', password: 'bob-password-1' };
    ok(await runCli(reg, ['user', 'disable', 'bob']));
    // The API checks the account on every request.
    expect(await api(reg, 'GET', '/me', { as: bob }), 401, 'UNAUTHORIZED');
    const again = ok(await runCli(reg, ['user', 'disable', 'bob']));
    assert.match(again.stdout, /already disabled/);
    ok(await runCli(reg, ['user', 'enable', 'bob']));
    expect(await api(reg, 'GET', '/me', { as: bob }), 200);
    const missing = await runCli(reg, ['user', 'disable', 'nobody']);
    assert.equal(missing.code, 1);
    const events = expect(await api(reg, 'GET', '/audit?action=user.update&actor=system', { as: ADMIN }), 200).json.events as { detail: Record<string, unknown> }[];
    assert.deepEqual(
      events.slice(0, 2).map((e) => e.detail),
      [
        { username: 'bob', disabled: false, from: 'cli' },
        { username: 'bob', disabled: true, from: 'cli' },
      ],
    );
  });

  test('the last enabled administrator cannot be disabled', async () => {
    ok(await runCli(reg, ['user', 'disable', 'root2']));
    const res = await runCli(reg, ['user', 'disable', 'admin']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /last administrator/);
    ok(await runCli(reg, ['user', 'enable', 'root2']));
  });

  test('import-htpasswd: bcrypt entries are imported and log in on /v2; other schemes are skipped with a reason', async () => {
    const hash = (pw: string, prefix: string) => bcrypt.hashSync(pw, 5).replace(/^\$2[aby]\$/, prefix);
    const file = join(reg.dataDir, 'htpasswd');
    await writeFile(
      file,
      [
        '# imported from the old registry',
        `hank:${hash('hank-password-1', '$2y$')}`,
        `ivy:${hash('ivy-password-1', '$2a$')}`,
        `jack:${hash('jack-password-1', '$2b$')}`,
        'kate:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/',
        'liam:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=',
        'mona:rl0Rs3QFqH6gU',
        `bob:${hash('not-bobs-password', '$2y$')}`,
        `Bad User:${hash('whatever-123', '$2y$')}`,
        '',
      ].join('\n'),
    );
    const res = await runCli(reg, ['user', 'import-htpasswd', file]);
    assert.equal(res.code, 1, `${res.stdout}\n${res.stderr}`);
    assert.match(res.stdout, /imported 3 user\(s\), 1 existed already, 4 line\(s\) skipped/);
    assert.match(res.stdout, /skipped bob: the user exists/);
    assert.match(res.stderr, /:5 \(kate\): skipped: MD5 \(\$apr1\$\) hashes are not supported/);
    assert.match(res.stderr, /:6 \(liam\): skipped: SHA-1/);
    assert.match(res.stderr, /:7 \(mona\): skipped: DES crypt/);
    assert.match(res.stderr, /:9 \(Bad User\): skipped: invalid username/);

    for (const name of ['hank', 'ivy', 'jack']) {
      assert.equal(await v2Status(reg, { username: name, password: `${name}-password-1` }), 200, name);
      assert.equal(await v2Status(reg, { username: name, password: 'wrong-password-1' }), 401, name);
    }
    // The existing user kept their password; the skipped ones were not created.
    assert.equal(await v2Status(reg, { username: 'bob', password: 'bob-password-1' }), 200);
    assert.equal(await v2Status(reg, { username: 'kate', password: 'anything' }), 401);
    // An imported user can push to their own namespace with the imported password.
    const blob = Buffer.from('hello from hank');
    const { createHash } = await import('node:crypto');
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const push = await fetch(`${reg.url}/v2/hank/app/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { Authorization: basic({ username: 'hank', password: 'hank-password-1' }), 'Content-Type': 'application/octet-stream' },
      body: blob,
    });
    assert.equal(push.status, 201);
    await push.arrayBuffer();
    const users = expect(await api(reg, 'GET', '/users', { as: ADMIN }), 200);
    assert.doesNotMatch(users.text, /\$2[aby]\$/);
  });

  test('import-htpasswd of a missing file fails clearly', async () => {
    const res = await runCli(reg, ['user', 'import-htpasswd', join(reg.dataDir, 'no-such-file')]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /no-such-file/);
  });
});
