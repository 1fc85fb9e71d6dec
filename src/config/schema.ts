// The one configuration schema. A YAML file, REGISTRY_* environment variables and command
// line flags all feed it (in that order of precedence, flags last); it is validated at start.
import { isIP } from 'node:net';
import { z } from 'zod';
import { isValidNamespaceName } from '../auth/names.js';

const MiB = 1024 * 1024;

// Every section is strict: a misspelt key anywhere is an error, not a silently ignored setting.
/** Hosts a target may be on: host names, `*.domain`, IP addresses and CIDR ranges (a list, or comma-separated). */
const AllowedHosts = z
  .preprocess(
    (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v),
    z.array(z.string().refine((h) => isAddressOrRange(h) || isHostPattern(h), 'a host name, *.domain, IP address or CIDR range')),
  )
  .default([]);

/** Members of any of these groups are registry administrators (a list, or `;`-separated in the environment). */
const AdminGroups = z
  .preprocess((v) => (typeof v === 'string' ? v.split(';').map((s) => s.trim()).filter(Boolean) : v), z.array(z.string().min(1)))
  .default([]);

/** Group → namespace role rules (a JSON array in the environment). */
const RoleRules = z
  .preprocess(
    (v) => (typeof v === 'string' ? parseJsonOr(v) : v),
    z.array(
      z.strictObject({
        group: z.string().min(1),
        namespace: z.string().refine(isValidNamespaceName, 'a namespace name'),
        role: z.enum(['owner', 'maintainer', 'developer', 'reader']),
      }),
    ),
  )
  .default([]);

export const ConfigSchema = z
  .object({
    http: z
      .strictObject({
        /** Loopback by default: other addresses need TLS (or allowPlainHttp) and auth (or auth.allowAnonymousPush). */
        host: z.string().min(1).default('127.0.0.1'),
        port: z.coerce.number().int().min(0).max(65535).default(5000),
        /** Longest a request may take to send its headers (slow-client guard). */
        headersTimeoutMs: z.coerce.number().int().positive().default(30_000),
        /** Longest a request body may send nothing (a stalled upload); answered 408, the upload keeps its acknowledged offset. */
        bodyIdleTimeoutMs: z.coerce.number().int().positive().default(60_000),
        /** Idle time after which a keep-alive connection is closed. */
        keepAliveTimeoutMs: z.coerce.number().int().positive().default(65_000),
        /** How long a graceful shutdown waits for running requests (uploads) to finish. */
        shutdownGraceMs: z.coerce.number().int().nonnegative().default(30_000),
        /** Serve HTTPS with these PEM files (reloaded on SIGHUP); plain HTTP when unset. */
        tls: z
          .strictObject({
            certFile: z.string().min(1).optional(),
            keyFile: z.string().min(1).optional(),
          })
          .prefault({}),
        /** Serve plain HTTP on a non-loopback host (a TLS-terminating proxy in front); refused otherwise. */
        allowPlainHttp: z.stringbool().or(z.boolean()).default(false),
      })
      .prefault({}),
    storage: z
      .strictObject({
        driver: z.enum(['filesystem', 's3']).default('filesystem'),
        filesystem: z.strictObject({ root: z.string().min(1).default('./data') }).prefault({}),
        s3: z
          .strictObject({
            endpoint: z.string().url().optional(),
            region: z.string().min(1).default('us-east-1'),
            bucket: z.string().min(1).optional(),
            accessKeyId: z.string().min(1).optional(),
            secretAccessKey: z.string().min(1).optional(),
            /** Path-style addressing (http://host/bucket/key); most self-hosted stores need it. */
            forcePathStyle: z.stringbool().or(z.boolean()).default(true),
            /** Key prefix, so several registries can share a bucket. */
            prefix: z.string().default(''),
            /** Answer blob GETs with a 307 to a pre-signed URL instead of streaming through the node. */
            redirect: z.stringbool().or(z.boolean()).default(false),
            redirectExpirySeconds: z.coerce.number().int().min(60).max(7 * 24 * 3600).default(900),
            /** Longest wait for a connection to the store. */
            connectTimeoutMs: z.coerce.number().int().min(100).default(3_000),
            /** Longest silence of the store within a request (no byte sent or received) before it fails. */
            requestTimeoutMs: z.coerce.number().int().min(100).default(10_000),
            /** Tries per store request (the first included); retries follow failures the SDK deems transient, and start only within requestTimeoutMs of the request's start. */
            maxAttempts: z.coerce.number().int().min(1).max(10).default(3),
          })
          .prefault({}),
      })
      .prefault({}),
    metadata: z
      .strictObject({
        driver: z.enum(['sqlite', 'postgres']).default('sqlite'),
        /** SQLite file; defaults to registry.db inside the filesystem storage root. */
        sqlite: z.strictObject({ path: z.string().optional() }).prefault({}),
        postgres: z
          .strictObject({
            /** postgres://user:password@host:port/database */
            url: z.string().optional(),
            poolSize: z.coerce.number().int().min(1).max(500).default(10),
            /** Longest wait for a connection (a new one, or a free one of the pool). */
            connectTimeoutMs: z.coerce.number().int().min(100).default(5_000),
            /** Longest wait for a query's answer; then it fails (the request answers 503). */
            queryTimeoutMs: z.coerce.number().int().min(100).default(10_000),
          })
          .prefault({}),
      })
      .prefault({}),
    redis: z
      .strictObject({
        /** redis://host:port/db; unset runs without Redis (correct, only slower in a cluster). */
        url: z.string().optional(),
        /** How long a tag or manifest lookup stays cached. */
        cacheTtlSeconds: z.coerce.number().int().min(1).default(60),
        /** Prefix of every key, so several registries can share one Redis. */
        keyPrefix: z.string().default('registry:'),
        /** Longest wait for a connection to Redis. */
        connectTimeoutMs: z.coerce.number().int().min(100).default(2_000),
        /** Longest wait for a command; a cache lookup that times out falls through to the database. */
        commandTimeoutMs: z.coerce.number().int().min(10).default(1_000),
      })
      .prefault({}),
    uploads: z
      .strictObject({
        /** Upload sessions untouched this long are dropped. */
        sessionTtlMs: z.coerce.number().int().positive().default(24 * 3600_000),
        purgeIntervalMs: z.coerce.number().int().positive().default(15 * 60_000),
        /**
         * On a shared store (S3), staged bytes with no upload session are removed at start-up once
         * older than this (younger ones may be another node's push just starting). The filesystem
         * store belongs to one process: its orphans are always removed at start-up.
         */
        orphanGraceMs: z.coerce.number().int().nonnegative().default(3600_000),
      })
      .prefault({}),
    gc: z
      .strictObject({
        /** Run garbage collection this often; 0 = only on demand (`registry gc`). */
        intervalMs: z.coerce.number().int().nonnegative().default(0),
        /** Blob links and manifests younger than this are never collected (pushes in flight). */
        reviewDelayMs: z.coerce.number().int().nonnegative().default(24 * 3600_000),
        /** Also delete manifests no tag, index or subject keeps (breaks pulls by digest of them). */
        deleteUntaggedManifests: z.stringbool().or(z.boolean()).default(false),
        /**
         * Scheduled runs list every stored blob (bytes a crash left unrecorded) only this often,
         * counted across the nodes sharing the database; 0 = every run. `registry gc` always lists.
         */
        unrecordedScanIntervalMs: z.coerce.number().int().nonnegative().default(24 * 3600_000),
      })
      .prefault({}),
    retention: z
      .strictObject({
        /** Run the enabled retention policies this often (each on one node of a cluster); 0 = only on demand. */
        intervalMs: z.coerce.number().int().nonnegative().default(3600_000),
        /** Untagged manifests younger than this are kept (a multi-arch push sends its index last). */
        untaggedGraceMs: z.coerce.number().int().nonnegative().default(3600_000),
      })
      .prefault({}),
    scan: z
      .strictObject({
        /** Scan images when they are pushed (and matched again when the vulnerability database changes). */
        enabled: z.stringbool().or(z.boolean()).default(true),
        /** Background scan workers on this node (0: this node only queues; other nodes scan). */
        workers: z.coerce.number().int().nonnegative().max(64).default(1),
        /** A worker that does not renew its job within this long is presumed dead; another takes it over. */
        leaseMs: z.coerce.number().int().positive().default(5 * 60_000),
        /** How often idle workers look for jobs other nodes queued. */
        pollMs: z.coerce.number().int().positive().default(2_000),
        /** How often to check whether the vulnerability database changed (then findings are matched again). */
        rematchCheckMs: z.coerce.number().int().positive().default(30_000),
        /** Push the inventory as a CycloneDX SBOM referring to the image (visible through the referrers API). */
        sbom: z.stringbool().or(z.boolean()).default(true),
        /** A layer that unpacks to more than this is not scanned (decompression bombs); the scan says so. */
        maxLayerBytes: z.coerce.number().int().positive().default(32 * 1024 * MiB),
      })
      .prefault({}),
    limits: z
      .strictObject({
        manifestMaxBytes: z.coerce.number().int().positive().default(4 * MiB),
      })
      .prefault({}),
    deletes: z.strictObject({ enabled: z.stringbool().or(z.boolean()).default(true) }).prefault({}),
    auth: z
      .strictObject({
        /** Off: anyone who reaches the port may do anything (the quick-start default, on loopback only). */
        enabled: z.stringbool().or(z.boolean()).default(false),
        /** With auth off, serve on a non-loopback host anyway (an open registry on a trusted network); refused otherwise. */
        allowAnonymousPush: z.stringbool().or(z.boolean()).default(false),
        /** The `service` of the token flow (the token audience). */
        service: z.string().min(1).default('registry'),
        issuer: z.string().min(1).default('registry-token-issuer'),
        /** Token endpoint URL for the WWW-Authenticate challenge; derived from the request when unset. */
        realm: z.string().url().optional(),
        tokenTtlSeconds: z.coerce.number().int().min(30).max(3600).default(300),
        refreshTtlSeconds: z.coerce.number().int().min(300).default(7 * 24 * 3600),
        /** Accept HTTP Basic credentials directly on /v2 (for simple clients). */
        basic: z.stringbool().or(z.boolean()).default(true),
        /** The first admin, created at start when no admin exists yet. */
        initialAdminUsername: z.string().min(1).optional(),
        initialAdminPassword: z.string().min(8).optional(),
        /** Failed logins per address or account within the window before answers slow down, then 429. */
        throttleWindowSeconds: z.coerce.number().int().min(1).default(900),
        throttleSlowAfter: z.coerce.number().int().min(1).default(5),
        throttleRefuseAfter: z.coerce.number().int().min(1).default(10),
      })
      .prefault({}),
    ui: z
      .strictObject({
        /** Serve the web UI at / (same port and access rules as the API). */
        enabled: z.stringbool().or(z.boolean()).default(true),
        /** A web UI login lasts this long (then the user logs in again). */
        sessionTtlSeconds: z.coerce.number().int().min(1).max(30 * 24 * 3600).default(12 * 3600),
        /**
         * The Secure attribute of the session cookie: `auto` sets it when the registry serves
         * HTTPS itself or a proxy in front says so (X-Forwarded-Proto: https); `always` when a
         * TLS proxy in front sends no such header; `never` only for plain-HTTP test setups.
         */
        secureCookies: z.enum(['auto', 'always', 'never']).default('auto'),
      })
      .prefault({}),
    auditForwarding: z
      .strictObject({
        /** Undelivered events kept per sink; past it the oldest are dropped (with a warning and a counter). */
        maxBacklog: z.coerce.number().int().min(1).default(100_000),
        /** Events sent to a sink at a time. */
        batchSize: z.coerce.number().int().min(1).max(1000).default(100),
        /** How often a node looks for undelivered events (new events are also sent at once). */
        pollMs: z.coerce.number().int().min(10).default(1_000),
        /** First wait after a failed delivery; doubles with each failure up to maxRetryMs. */
        retryMs: z.coerce.number().int().min(10).default(1_000),
        maxRetryMs: z.coerce.number().int().min(10).default(60_000),
        /** How long a node holds a claimed batch before another node may send it. */
        leaseMs: z.coerce.number().int().min(1_000).default(60_000),
        syslog: z
          .strictObject({
            /** udp://host:514, tcp://host:601 (octet counting) or tls://host:6514; unset = no syslog. */
            url: z
              .string()
              .regex(/^(udp|tcp|tls):\/\/[^/]+:\d+\/?$/, 'udp://, tcp:// or tls://host:port')
              .optional(),
            /** PEM CA bundle that signs the receiver's certificate (tls://); the system CAs when unset. */
            caFile: z.string().min(1).optional(),
            /** Syslog facility number (13 = log audit). */
            facility: z.coerce.number().int().min(0).max(23).default(13),
            appName: z.string().min(1).max(48).default('registry'),
            /** HOSTNAME field; the machine's name when unset. */
            hostname: z.string().min(1).max(255).optional(),
            timeoutMs: z.coerce.number().int().min(100).default(10_000),
          })
          .prefault({}),
        http: z
          .strictObject({
            /** POST batches of events as JSON to this URL; unset = no HTTP sink. */
            url: z.string().url().optional(),
            /** Sent as `Authorization: Bearer <token>`. */
            bearerToken: z.string().min(1).optional(),
            /** Signs each body: `X-Registry-Signature: sha256=<hex HMAC-SHA256 of the body>`. */
            hmacSecret: z.string().min(1).optional(),
            timeoutMs: z.coerce.number().int().min(100).default(10_000),
          })
          .prefault({}),
      })
      .prefault({}),
    ldap: z
      .strictObject({
        /** ldap://host:389 or ldaps://host:636; unset = no directory logins. */
        url: z
          .string()
          .regex(/^ldaps?:\/\//, 'ldap:// or ldaps://')
          .optional(),
        /** Upgrade an ldap:// connection with StartTLS before binding. */
        startTls: z.stringbool().or(z.boolean()).default(false),
        /** PEM CA bundle for ldaps:// and StartTLS; the system CAs when unset. */
        caFile: z.string().min(1).optional(),
        /** The service account that searches for users and groups. */
        bindDn: z.string().min(1).optional(),
        bindPassword: z.string().optional(),
        userBaseDn: z.string().min(1).optional(),
        /** `{username}` is replaced by the escaped login name. */
        userFilter: z.string().min(1).default('(&(objectClass=inetOrgPerson)(uid={username}))'),
        /** Groups from a search under this DN; from the user's memberOf attribute when unset. */
        groupBaseDn: z.string().min(1).optional(),
        /** `{dn}` is the user's escaped DN, `{username}` the escaped login name. */
        groupFilter: z.string().min(1).default('(|(member={dn})(uniqueMember={dn}))'),
        /** Members of any of these groups (DNs) are registry administrators. */
        adminGroups: AdminGroups,
        roleRules: RoleRules,
        connectTimeoutMs: z.coerce.number().int().min(100).default(5_000),
        timeoutMs: z.coerce.number().int().min(100).default(10_000),
        /** A directory login is remembered this long (Basic auth on every request stays cheap); groups are read again after it. */
        cacheTtlMs: z.coerce.number().int().nonnegative().default(30_000),
      })
      .prefault({}),
    oidc: z
      .strictObject({
        /** The OpenID provider's issuer URL (its discovery document is read from it); unset = no single sign-on. */
        issuer: z.string().url().optional(),
        clientId: z.string().min(1).optional(),
        /** Unset for a public client (PKCE alone). */
        clientSecret: z.string().min(1).optional(),
        /** This registry's callback as registered at the provider: https://<registry>/api/v1/oidc/callback. */
        redirectUrl: z.string().url().optional(),
        /** Scopes asked for (a list, or space-separated); add the one that releases groups, if the provider has one. */
        scopes: z
          .preprocess((v) => (typeof v === 'string' ? v.split(/[\s,]+/).filter(Boolean) : v), z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope token')))
          .default(['openid', 'profile', 'email'])
          .refine((list) => list.includes('openid'), 'must include openid'),
        /** The claim that names the account (lower-cased; it must be a valid user name). */
        usernameClaim: z.string().min(1).default('preferred_username'),
        /** The claim that lists the user's groups (from the ID token or the userinfo endpoint). */
        groupsClaim: z.string().min(1).default('groups'),
        /** Shown on the login button. */
        displayName: z.string().min(1).max(64).default('Single sign-on'),
        adminGroups: AdminGroups,
        roleRules: RoleRules,
        /** How long a personal CLI secret works (then `registry login --oidc` again). */
        cliSecretTtlDays: z.coerce.number().int().min(1).max(3650).default(90),
        /** How long a started login (browser or command line) may take. */
        loginTimeoutSeconds: z.coerce.number().int().min(30).max(3600).default(600),
      })
      .prefault({}),
    mfa: z
      .strictObject({
        /** Administrators must enrol a second factor before the management API lets them in. */
        requireForAdmins: z.stringbool().or(z.boolean()).default(false),
        /** Owners of a namespace must enrol a second factor likewise. */
        requireForOwners: z.stringbool().or(z.boolean()).default(false),
        /** The issuer shown by authenticator apps. */
        issuer: z.string().min(1).default('registry'),
      })
      .prefault({}),
    metrics: z
      .strictObject({
        /** Serve Prometheus metrics at GET /metrics. */
        enabled: z.stringbool().or(z.boolean()).default(true),
        /** Serve /metrics on its own port (and host) instead of the registry's; unset = the same port. */
        port: z.coerce.number().int().min(0).max(65535).optional(),
        host: z.string().min(1).optional(),
        /** Namespace storage (a scan of every blob link) is recomputed on a scrape at most this often. */
        storageRefreshMs: z.coerce.number().int().nonnegative().default(60_000),
      })
      .prefault({}),
    rateLimit: z
      .strictObject({
        /** Refuse requests past a budget per client address and per identity with 429. */
        enabled: z.stringbool().or(z.boolean()).default(false),
        /** Length of the fixed counting window. */
        windowMs: z.coerce.number().int().min(100).default(60_000),
        /** Requests per window from one client address; 0 = no address limit. */
        perAddress: z.coerce.number().int().nonnegative().default(1200),
        /** /v2 and management API requests per window by one user or robot; 0 = no identity limit. */
        perIdentity: z.coerce.number().int().nonnegative().default(1200),
        /** Addresses or CIDR ranges never limited (a list, or comma-separated in the environment). */
        exempt: z
          .preprocess(
            (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v),
            z.array(z.string().refine(isAddressOrRange, 'an IP address or CIDR range')),
          )
          .default([]),
      })
      .prefault({}),
    webhooks: z
      .strictObject({
        /** Deliver queued webhook events from this node (events are queued either way). */
        enabled: z.stringbool().or(z.boolean()).default(true),
        /**
         * Where webhooks may point: host names (`hooks.example.com`, `*.example.com`), IP
         * addresses and CIDR ranges. Empty (the default) allows no target at all. A listed host
         * name may resolve to public addresses only; private, loopback and link-local addresses
         * must be listed themselves (as an address or range).
         */
        allowedHosts: AllowedHosts,
        /** Longest a delivery may take (connect, send, answer). */
        timeoutMs: z.coerce.number().int().min(100).max(60_000).default(10_000),
        /** Attempts before a delivery is given up (`failed`); the next one of the webhook follows. */
        maxAttempts: z.coerce.number().int().min(1).max(100).default(8),
        /** Delay before the first retry; doubled per attempt (with jitter) up to retryMaxMs. */
        retryBaseMs: z.coerce.number().int().nonnegative().default(10_000),
        retryMaxMs: z.coerce.number().int().nonnegative().default(3600_000),
        /** Deliveries sent at once by this node (each webhook still gets its events one at a time). */
        workers: z.coerce.number().int().min(1).max(64).default(2),
        /** How often idle workers look for deliveries queued by other nodes (or due for a retry). */
        pollMs: z.coerce.number().int().min(10).default(1_000),
        /** A node that does not finish a delivery within this long is presumed dead; another takes it. */
        leaseMs: z.coerce.number().int().min(1_000).default(60_000),
        /** Finished deliveries (delivered or failed) are kept this long in the delivery log. */
        logRetentionMs: z.coerce.number().int().positive().default(7 * 24 * 3600_000),
      })
      .prefault({}),
    replication: z
      .strictObject({
        /**
         * Where a namespace's rules may point (as webhooks.allowedHosts; empty, the default: only
         * administrators' system-wide rules replicate, to any registry).
         */
        allowedHosts: AllowedHosts,
        /** Carry out queued replication runs and scheduled rules on this node (runs are queued either way). */
        enabled: z.stringbool().or(z.boolean()).default(true),
        /** How often an idle node looks for runs queued elsewhere, due for a retry, or scheduled. */
        pollMs: z.coerce.number().int().min(10).default(5_000),
        /** A node that does not finish a run within this long is presumed dead; another takes it. */
        leaseMs: z.coerce.number().int().min(1_000).default(3600_000),
        /** Attempts of a run before it is given up (`failed`). */
        maxAttempts: z.coerce.number().int().min(1).max(100).default(6),
        /** Delay before the first retry of a failed run; doubled per attempt up to retryMaxMs. */
        retryBaseMs: z.coerce.number().int().nonnegative().default(30_000),
        retryMaxMs: z.coerce.number().int().nonnegative().default(3600_000),
        /** Per request to the other registry: longest wait for an answer (or the next bytes). */
        requestTimeoutMs: z.coerce.number().int().min(100).default(30_000),
        /** Per request: retries after 429, 5xx and connection errors, before the run counts as failed. */
        requestRetries: z.coerce.number().int().min(0).max(10).default(4),
      })
      .prefault({}),
    proxy: z
      .strictObject({
        /**
         * Pull-through caches: each upstream registry is mapped to a local namespace
         * (`dockerhub/library/alpine` pulls `library/alpine` from the upstream). A YAML list, or a
         * JSON array in REGISTRY_PROXY_UPSTREAMS.
         */
        upstreams: z
          .preprocess(
            (v) => (typeof v === 'string' ? parseJsonOr(v) : v),
            z.array(
              z.strictObject({
                namespace: z.string().regex(/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/, 'a single-segment namespace name'),
                /** `https://host[:port]`, `host[:port]` (plain http only for loopback) or `docker.io`. */
                url: z.string().min(1),
                username: z.string().min(1).optional(),
                password: z.string().min(1).optional(),
                /** How long a cached tag is served before the upstream is asked again (HEAD). */
                tagTtlSeconds: z.coerce.number().int().nonnegative().default(300),
                /** Longest wait for the upstream's answer, and for each pause in a blob it sends. */
                timeoutMs: z.coerce.number().int().min(100).default(30_000),
              }),
            ),
          )
          .default([])
          .refine((list) => new Set(list.map((u) => u.namespace)).size === list.length, 'each namespace may have one upstream only'),
        /** Accept pushes into proxied namespaces (refused with DENIED by default). */
        allowPush: z.stringbool().or(z.boolean()).default(false),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (Boolean(c.http.tls.certFile) !== Boolean(c.http.tls.keyFile)) {
      ctx.addIssue({ code: 'custom', path: ['http', 'tls'], message: 'certFile and keyFile go together' });
    }
    if (c.metrics.port !== undefined && c.metrics.port !== 0 && c.metrics.port === c.http.port) {
      ctx.addIssue({ code: 'custom', path: ['metrics', 'port'], message: 'leave metrics.port unset to serve /metrics on the registry port' });
    }
    if (c.webhooks.leaseMs <= c.webhooks.timeoutMs) {
      ctx.addIssue({ code: 'custom', path: ['webhooks', 'leaseMs'], message: 'must be longer than webhooks.timeoutMs' });
    }
    if (c.metadata.driver === 'postgres' && !c.metadata.postgres.url) {
      ctx.addIssue({ code: 'custom', path: ['metadata', 'postgres', 'url'], message: 'required when metadata.driver is postgres' });
    }
    if (c.ldap.url && !c.ldap.userBaseDn) {
      ctx.addIssue({ code: 'custom', path: ['ldap', 'userBaseDn'], message: 'required when ldap.url is set' });
    }
    if (c.ldap.startTls && c.ldap.url?.startsWith('ldaps:')) {
      ctx.addIssue({ code: 'custom', path: ['ldap', 'startTls'], message: 'StartTLS is for ldap:// URLs (ldaps:// is TLS already)' });
    }
    if (c.oidc.issuer) {
      for (const key of ['clientId', 'redirectUrl'] as const) {
        if (!c.oidc[key]) ctx.addIssue({ code: 'custom', path: ['oidc', key], message: 'required when oidc.issuer is set' });
      }
      if (!isHttpsOrLoopback(c.oidc.issuer)) ctx.addIssue({ code: 'custom', path: ['oidc', 'issuer'], message: 'https:// (plain http only on a loopback address)' });
    }
    if (c.storage.driver === 's3') {
      for (const key of ['bucket', 'accessKeyId', 'secretAccessKey'] as const) {
        if (!c.storage.s3[key]) ctx.addIssue({ code: 'custom', path: ['storage', 's3', key], message: 'required when storage.driver is s3' });
      }
    }
  });

export type Config = z.infer<typeof ConfigSchema>;

/** JSON text parsed, or the text itself when it is not JSON (the schema then names the setting). */
function parseJsonOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** `10.0.0.1`, `::1`, `10.0.0.0/8` or `fd00::/8`. */
export function isAddressOrRange(value: string): boolean {
  const [address = '', prefix, ...rest] = value.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  const bits = Number(prefix);
  return /^\d+$/.test(prefix) && bits <= (family === 4 ? 32 : 128);
}


/** An https:// URL, or http:// to a loopback address (a provider on this machine, as in tests). */
export function isHttpsOrLoopback(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const parsed = new URL(url);
  if (parsed.protocol === 'https:') return true;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  return parsed.protocol === 'http:' && (host === 'localhost' || host === '::1' || /^127\./.test(host));
}

/** `hooks.example.com`, `localhost` or `*.example.com` (labels of letters, digits and hyphens). */
export function isHostPattern(value: string): boolean {
  const name = value.startsWith('*.') ? value.slice(2) : value;
  return name.length <= 253 && /^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/i.test(name);
}
