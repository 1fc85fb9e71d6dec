// A real OpenLDAP server for tests: slapd (Debian's package) started as a child process on
// loopback, with its cn=config and database in a temporary directory (never the system
// service), seeded with people and groups. TLS (ldaps:// and StartTLS) with a CA and a server
// certificate made with openssl. The memberof overlay keeps memberOf up to date for group
// changes made while it runs (not for the seeded groups: slapadd bypasses overlays).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Attribute, Change, Client } from 'ldapts';
import { run } from './exec.js';
import { makeCertificates } from './certificates.js';
import { makeTempDir } from './registry.js';
import { freePort } from './proxy.js';

export const SLAPD = '/usr/sbin/slapd';
export const SUFFIX = 'dc=example,dc=org';
export const ROOT_DN = `cn=admin,${SUFFIX}`;
const ROOT_PASSWORD = 'root-secret';
export const SERVICE_DN = `cn=reader,${SUFFIX}`;
export const SERVICE_PASSWORD = 'reader-secret';
export const PEOPLE = `ou=people,${SUFFIX}`;
export const GROUPS = `ou=groups,${SUFFIX}`;

export const personDn = (uid: string) => `uid=${uid},${PEOPLE}`;
export const groupDn = (cn: string) => `cn=${cn},${GROUPS}`;

/** The registry's `ldap` settings for this server (service account, people and groups), plus `extra`. */
export function ldapSection(slapd: Slapd, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { url: slapd.url, bindDn: SERVICE_DN, bindPassword: SERVICE_PASSWORD, userBaseDn: PEOPLE, groupBaseDn: GROUPS, ...extra };
}

export interface Person {
  uid: string;
  password: string;
}

export interface Slapd {
  url: string;
  ldapsUrl: string;
  /** The CA that signed the server's certificate (for ldaps:// and StartTLS). */
  caFile: string;
  /** Add or remove a person from a group (as the directory's root). */
  setMembership(group: string, uid: string, member: boolean): Promise<void>;
  stop(): Promise<void>;
}

function configLdif(dir: string): string {
  return `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: ${dir}/slapd.pid
olcTLSCACertificateFile: ${dir}/ca.pem
olcTLSCertificateFile: ${dir}/server.pem
olcTLSCertificateKeyFile: ${dir}/server.key

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: memberof

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: ${SUFFIX}
olcRootDN: ${ROOT_DN}
olcRootPW: ${ROOT_PASSWORD}
olcDbDirectory: ${dir}/data
olcDbMaxSize: 67108864
olcAccess: {0}to attrs=userPassword by self =x by anonymous auth by * none
olcAccess: {1}to * by dn.exact="${SERVICE_DN}" read by self read by * none

dn: olcOverlay={0}memberof,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf
`;
}

function dataLdif(people: Person[], groups: Record<string, string[]>): string {
  const entries = [
    `dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example`,
    `dn: ${PEOPLE}\nobjectClass: organizationalUnit\nou: people`,
    `dn: ${GROUPS}\nobjectClass: organizationalUnit\nou: groups`,
    `dn: ${SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: reader\nuserPassword: ${SERVICE_PASSWORD}`,
    ...people.map((p) => `dn: ${personDn(p.uid)}\nobjectClass: inetOrgPerson\nuid: ${p.uid}\ncn: ${p.uid}\nsn: ${p.uid}\nuserPassword: ${p.password}`),
    ...Object.entries(groups).map(([cn, members]) => `dn: ${groupDn(cn)}\nobjectClass: groupOfNames\ncn: ${cn}\n${members.map((m) => `member: ${personDn(m)}`).join('\n')}`),
  ];
  return `${entries.join('\n\n')}\n`;
}

async function waitForLdap(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const until = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`slapd exited with ${child.exitCode}: ${log()}`);
    const client = new Client({ url, connectTimeout: 1_000, timeout: 2_000 });
    try {
      await client.bind(ROOT_DN, ROOT_PASSWORD);
      return;
    } catch (err) {
      if (Date.now() > until) throw new Error(`slapd did not answer: ${(err as Error).message}: ${log()}`);
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }
}

export async function startSlapd(people: Person[], groups: Record<string, string[]>): Promise<Slapd> {
  const dir = await makeTempDir('slapd-test-');
  const confDir = join(dir, 'slapd.d');
  await mkdir(confDir);
  await mkdir(join(dir, 'data'));
  const { ca } = await makeCertificates(dir);
  await writeFile(join(dir, 'config.ldif'), configLdif(dir));
  await writeFile(join(dir, 'data.ldif'), dataLdif(people, groups));
  await run('slapadd', ['-n', '0', '-F', confDir, '-l', join(dir, 'config.ldif')]);
  await run('slapadd', ['-n', '1', '-F', confDir, '-l', join(dir, 'data.ldif')]);
  const port = await freePort();
  const tlsPort = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  const ldapsUrl = `ldaps://127.0.0.1:${tlsPort}`;
  // -d keeps it in the foreground (a child we can stop by its pid).
  const child = spawn(SLAPD, ['-h', `${url}/ ${ldapsUrl}/`, '-F', confDir, '-d', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  try {
    await waitForLdap(url, child, () => stderr);
  } catch (err) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    url,
    ldapsUrl,
    caFile: ca,
    async setMembership(group, uid, member) {
      const client = new Client({ url, timeout: 5_000, connectTimeout: 2_000 });
      try {
        await client.bind(ROOT_DN, ROOT_PASSWORD);
        await client.modify(groupDn(group), new Change({ operation: member ? 'add' : 'delete', modification: new Attribute({ type: 'member', values: [personDn(uid)] }) }));
      } finally {
        await client.unbind().catch(() => undefined);
      }
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
