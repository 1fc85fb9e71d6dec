// The identity settings (audit forwarding, LDAP, MFA) from REGISTRY_* environment variables,
// including the ones without a default, lists and JSON rules; and their validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config/load.js';

test('audit forwarding, LDAP and MFA settings come from the environment', () => {
  const c = loadConfig({
    env: {
      REGISTRY_AUDIT_FORWARDING_SYSLOG_URL: 'tls://siem.example.com:6514',
      REGISTRY_AUDIT_FORWARDING_SYSLOG_CA_FILE: '/etc/ca.pem',
      REGISTRY_AUDIT_FORWARDING_HTTP_URL: 'https://siem.example.com/in',
      REGISTRY_AUDIT_FORWARDING_HTTP_HMAC_SECRET: 's3cret',
      REGISTRY_AUDIT_FORWARDING_MAX_BACKLOG: '500',
      REGISTRY_LDAP_URL: 'ldaps://ldap.example.com',
      REGISTRY_LDAP_BIND_DN: 'cn=svc,dc=example,dc=org',
      REGISTRY_LDAP_BIND_PASSWORD: 'pw',
      REGISTRY_LDAP_USER_BASE_DN: 'ou=people,dc=example,dc=org',
      REGISTRY_LDAP_ADMIN_GROUPS: 'cn=admins,ou=groups,dc=example,dc=org; cn=ops,ou=groups,dc=example,dc=org',
      REGISTRY_LDAP_ROLE_RULES: JSON.stringify([{ group: 'cn=a,ou=groups,dc=example,dc=org', namespace: 'a', role: 'developer' }]),
      REGISTRY_MFA_REQUIRE_FOR_ADMINS: 'true',
    },
  });
  assert.equal(c.auditForwarding.syslog.url, 'tls://siem.example.com:6514');
  assert.equal(c.auditForwarding.syslog.caFile, '/etc/ca.pem');
  assert.equal(c.auditForwarding.syslog.facility, 13);
  assert.equal(c.auditForwarding.http.url, 'https://siem.example.com/in');
  assert.equal(c.auditForwarding.http.hmacSecret, 's3cret');
  assert.equal(c.auditForwarding.maxBacklog, 500);
  assert.equal(c.ldap.url, 'ldaps://ldap.example.com');
  assert.equal(c.ldap.bindDn, 'cn=svc,dc=example,dc=org');
  assert.equal(c.ldap.userBaseDn, 'ou=people,dc=example,dc=org');
  assert.deepEqual(c.ldap.adminGroups, ['cn=admins,ou=groups,dc=example,dc=org', 'cn=ops,ou=groups,dc=example,dc=org']);
  assert.deepEqual(c.ldap.roleRules, [{ group: 'cn=a,ou=groups,dc=example,dc=org', namespace: 'a', role: 'developer' }]);
  assert.equal(c.mfa.requireForAdmins, true);
  assert.equal(c.mfa.requireForOwners, false);
});

test('invalid identity settings are refused with the setting named', () => {
  const bad: Record<string, string>[] = [
    { REGISTRY_AUDIT_FORWARDING_SYSLOG_URL: 'http://siem:514' },
    { REGISTRY_AUDIT_FORWARDING_SYSLOG_URL: 'tcp://siem' },
    { REGISTRY_LDAP_URL: 'ldap://ldap.example.com' },
    { REGISTRY_LDAP_URL: 'ldaps://ldap.example.com', REGISTRY_LDAP_USER_BASE_DN: 'dc=x', REGISTRY_LDAP_START_TLS: 'true' },
    { REGISTRY_LDAP_ROLE_RULES: JSON.stringify([{ group: 'cn=a', namespace: 'a', role: 'king' }]) },
    { REGISTRY_LDAP_ROLE_RULES: '[{group: oops' },
    { REGISTRY_LDAP_ROLE_RULES: JSON.stringify([{ group: 'cn=a', namespace: 'Team A', role: 'reader' }]) },
  ];
  for (const env of bad) {
    assert.throws(() => loadConfig({ env }), (err: unknown) => err instanceof ConfigError && /auditForwarding|ldap/.test(err.message), JSON.stringify(env));
  }
});
