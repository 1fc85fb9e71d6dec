// skopeo against a registry whose people log in from a real OpenLDAP (slapd on loopback): the
// directory password works through the token flow, and the namespace roles the group rules
// give decide the push and the pull.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { hasCommand, run } from '../helpers/exec.js';
import { OciLayout, readLayout, resolveTag, type BuiltImage } from '../helpers/oci-layout.js';
import { ADMIN } from '../helpers/api.js';
import { groupDn, ldapSection, startSlapd, type Slapd } from '../helpers/slapd.js';

const available = (await hasCommand('skopeo')) && (await hasCommand('slapadd'));

describe('skopeo with directory (LDAP) credentials', { skip: available ? false : 'skopeo or slapd is not installed (scripts/install-test-deps.sh installs them)', timeout: 180_000 }, () => {
  let slapd: Slapd;
  let registry: TestRegistry;
  let work: string;
  let env: Record<string, string>;
  let layout: OciLayout;
  let image: BuiltImage;

  const skopeo = (...args: string[]) => run('skopeo', ['--insecure-policy', ...args], { timeoutMs: 90_000, env });

  before(async () => {
    slapd = await startSlapd(
      [
        { uid: 'dev', password: 'dev-directory-secret' },
        { uid: 'viewer', password: 'viewer-directory-secret' },
      ],
      { developers: ['dev'], viewers: ['viewer'] },
    );
    registry = await startRegistry({
      auth: { enabled: true, initialAdminUsername: ADMIN.username, initialAdminPassword: ADMIN.password },
      ldap: ldapSection(slapd, {
        roleRules: [
          { group: groupDn('developers'), namespace: 'team', role: 'developer' },
          { group: groupDn('viewers'), namespace: 'team', role: 'reader' },
        ],
      }),
    });
    work = await makeTempDir('registry-e2e-ldap-');
    const auth = join(work, 'auth.json');
    await writeFile(auth, JSON.stringify({ auths: {} }));
    env = { REGISTRY_AUTH_FILE: auth, XDG_RUNTIME_DIR: work, HOME: work, TMPDIR: work };
    layout = await OciLayout.create(join(work, 'src'));
    image = await layout.addImage({ os: 'linux', architecture: 'amd64' }, [[{ path: 'data.bin', content: randomBytes(50_000) }]]);
    layout.tag(image.descriptor, 'image');
    await layout.save();
  });

  after(async () => {
    await registry?.close();
    await slapd?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a developer from the directory pushes, a reader pulls and cannot push', async () => {
    const src = `oci:${layout.dir}:image`;
    await skopeo('copy', '--retry-times', '0', '--dest-tls-verify=false', '--dest-creds', 'dev:dev-directory-secret', src, `docker://${registry.host}/team/app:v1`);
    const out = join(work, 'pulled');
    await skopeo('copy', '--retry-times', '0', '--src-tls-verify=false', '--src-creds', 'viewer:viewer-directory-secret', `docker://${registry.host}/team/app:v1`, `oci:${out}:pulled`);
    assert.equal(resolveTag(await readLayout(out), 'pulled').digest, image.descriptor.digest);
    await assert.rejects(
      skopeo('copy', '--retry-times', '0', '--dest-tls-verify=false', '--dest-creds', 'viewer:viewer-directory-secret', src, `docker://${registry.host}/team/app:v2`),
      /denied|unauthorized|authentication required/i,
    );
    await assert.rejects(
      skopeo('copy', '--retry-times', '0', '--dest-tls-verify=false', '--dest-creds', 'dev:wrong-password', src, `docker://${registry.host}/team/app:v3`),
      /unauthorized|invalid username or password/i,
    );
  });
});
