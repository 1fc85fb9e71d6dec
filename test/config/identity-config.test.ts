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

test('OIDC settings come from the environment, with defaults that work', () => {
  const c = loadConfig({
    env: {
      REGISTRY_OIDC_ISSUER: 'https://idp.example.com/realms/main',
      REGISTRY_OIDC_CLIENT_ID: 'registry',
      REGISTRY_OIDC_CLIENT_SECRET: 'client-secret',
      REGISTRY_OIDC_REDIRECT_URL: 'https://registry.example.com/api/v1/oidc/callback',
      REGISTRY_OIDC_SCOPES: 'openid profile groups',
      REGISTRY_OIDC_ADMIN_GROUPS: 'registry-admins',
      REGISTRY_OIDC_ROLE_RULES: JSON.stringify([{ group: 'team-a', namespace: 'team-a', role: 'maintainer' }]),
      REGISTRY_OIDC_CLI_SECRET_TTL_DAYS: '30',
    },
  });
  assert.equal(c.oidc.issuer, 'https://idp.example.com/realms/main');
  assert.equal(c.oidc.clientId, 'registry');
  assert.equal(c.oidc.clientSecret, 'client-secret');
  assert.deepEqual(c.oidc.scopes, ['openid', 'profile', 'groups']);
  assert.deepEqual(c.oidc.adminGroups, ['registry-admins']);
  assert.deepEqual(c.oidc.roleRules, [{ group: 'team-a', namespace: 'team-a', role: 'maintainer' }]);
  assert.equal(c.oidc.cliSecretTtlDays, 30);
  assert.equal(c.oidc.usernameClaim, 'preferred_username');
  assert.equal(c.oidc.groupsClaim, 'groups');
  assert.equal(c.oidc.loginTimeoutSeconds, 600);
  const off = loadConfig({ env: {} });
  assert.equal(off.oidc.issuer, undefined);
  assert.deepEqual(off.oidc.scopes, ['openid', 'profile', 'email']);
});

test('invalid OIDC settings are refused with the setting named', () => {
  const base = { REGISTRY_OIDC_ISSUER: 'https://idp.example.com', REGISTRY_OIDC_CLIENT_ID: 'registry', REGISTRY_OIDC_REDIRECT_URL: 'https://registry.example.com/api/v1/oidc/callback' };
  const bad: [Record<string, string>, RegExp][] = [
    [{ ...base, REGISTRY_OIDC_CLIENT_ID: '' }, /oidc\.clientId/],
    [{ ...base, REGISTRY_OIDC_REDIRECT_URL: '' }, /oidc\.redirectUrl/],
    [{ ...base, REGISTRY_OIDC_ISSUER: 'http://idp.example.com' }, /oidc\.issuer/],
    [{ ...base, REGISTRY_OIDC_ISSUER: 'not a url' }, /oidc\.issuer/],
    [{ ...base, REGISTRY_OIDC_SCOPES: 'profile email' }, /oidc\.scopes/],
    [{ ...base, REGISTRY_OIDC_ROLE_RULES: JSON.stringify([{ group: 'g', namespace: 'Bad Name', role: 'developer' }]) }, /oidc\.roleRules/],
    [{ ...base, REGISTRY_OIDC_CLI_SECRET_TTL_DAYS: '0' }, /oidc\.cliSecretTtlDays/],
  ];
  for (const [env, setting] of bad) {
    assert.throws(() => loadConfig({ env }), (err: unknown) => err instanceof ConfigError && setting.test(err.message), JSON.stringify(env));
  }
  assert.throws(() => loadConfig({ overrides: { oidc: { issuer: 'https://idp.example.com', clientId: 'r', redirectUrl: 'https://r.example.com/cb', claim: 'x' } } }), /claim/);
  // A provider on loopback may be plain http (tests, a provider on the same machine).
  assert.equal(loadConfig({ env: { ...base, REGISTRY_OIDC_ISSUER: 'http://127.0.0.1:8080' } }).oidc.issuer, 'http://127.0.0.1:8080');
});
