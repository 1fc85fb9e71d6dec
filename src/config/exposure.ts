// Secure defaults: which configurations would expose the registry to the network insecurely.
// `registry serve` refuses to start with any refusal; `registry doctor` and SIGHUP reload report
// both refusals and warnings (settings that are allowed but weaken security).
import { isIP } from 'node:net';
import type { Config } from './schema.js';

/** 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) and the name localhost: reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped !== null && mapped[1]!.startsWith('127.');
  }
  // Any other name may resolve to anything: treated as exposed.
  return false;
}

/** Why this configuration must not serve (empty: it may). Each reason names the settings that fix it. */
export function exposureRefusals(config: Config): string[] {
  const host = config.http.host;
  if (isLoopbackHost(host)) return [];
  const reasons: string[] = [];
  if (!config.http.tls.certFile && !config.http.allowPlainHttp) {
    reasons.push(
      `refusing plain HTTP on ${host}: set http.tls.certFile and http.tls.keyFile (REGISTRY_HTTP_TLS_CERT_FILE, REGISTRY_HTTP_TLS_KEY_FILE), ` +
        `or http.allowPlainHttp: true (REGISTRY_HTTP_ALLOW_PLAIN_HTTP=true) when a TLS-terminating proxy is in front, or listen on 127.0.0.1`,
    );
  }
  if (!config.auth.enabled && !config.auth.allowAnonymousPush) {
    reasons.push(
      `refusing anonymous push and delete on ${host}: set auth.enabled: true (REGISTRY_AUTH_ENABLED=true) and create an administrator, ` +
        `or auth.allowAnonymousPush: true (REGISTRY_AUTH_ALLOW_ANONYMOUS_PUSH=true) for an open registry on a trusted network, or listen on 127.0.0.1`,
    );
  }
  return reasons;
}

/** Settings that are allowed but weaken security, each with what to do about it. */
export function exposureWarnings(config: Config): string[] {
  const host = config.http.host;
  const exposed = !isLoopbackHost(host);
  const warnings: string[] = [];
  if (exposed && !config.http.tls.certFile && config.http.allowPlainHttp) {
    warnings.push(`plain HTTP on ${host} (http.allowPlainHttp): only safe behind a TLS-terminating proxy on a private network`);
  }
  if (exposed && !config.auth.enabled && config.auth.allowAnonymousPush) {
    warnings.push(`anyone who reaches ${host} may push and delete (auth.allowAnonymousPush): enable auth.enabled outside a trusted network`);
  }
  if (exposed && config.ui.enabled && config.ui.secureCookies === 'never') {
    warnings.push('ui.secureCookies is never: web UI sessions may travel over plain HTTP; use auto');
  }
  if (config.auth.enabled && config.auth.initialAdminPassword) {
    warnings.push('auth.initialAdminPassword is still set: remove it once the administrator exists');
  }
  if (config.ldap.url?.startsWith('ldap:') && !config.ldap.startTls) {
    warnings.push('ldap.url is ldap:// without ldap.startTls: directory passwords travel in clear text');
  }
  // /metrics names repositories and namespaces and answers without credentials.
  const separateMetrics = config.metrics.port !== undefined && config.metrics.port !== config.http.port;
  const metricsHost = separateMetrics ? (config.metrics.host ?? host) : host;
  if (config.metrics.enabled && !isLoopbackHost(metricsHost)) {
    const where = separateMetrics ? `${metricsHost}:${config.metrics.port}` : `${host}:${config.http.port}`;
    warnings.push(`/metrics answers without authentication on ${where}: set metrics.port and metrics.host to a private address, or block it at the proxy`);
  }
  if (config.auditForwarding.syslog.url && !config.auditForwarding.syslog.url.startsWith('tls:')) {
    warnings.push('auditForwarding.syslog.url is not tls://: audit events travel in clear text');
  }
  return warnings;
}
