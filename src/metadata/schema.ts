// Table shapes shared by every SQL driver. Timestamps are epoch milliseconds; PostgreSQL
// returns bigint columns as strings, so readers go through toNumber().
import type { ColumnType, Generated } from 'kysely';

type Int = ColumnType<number | string, number, number>;
type NullableInt = ColumnType<number | string | null, number | null | undefined, number | null>;
/** Booleans are stored as integer 0/1, the same on every dialect. */
type Flag = ColumnType<number, number | undefined, number>;

export interface RepositoriesTable {
  name: string;
  created_at: Int;
}

export interface BlobsTable {
  digest: string;
  size: Int;
  created_at: Int;
  /** Token of the collector deleting the blob (0020_gc), and until when its lease holds. */
  deleting: ColumnType<string | null, string | null | undefined, string | null>;
  deleting_until: NullableInt;
}

export interface RepositoryBlobsTable {
  repository: string;
  digest: string;
  created_at: Int;
}

export interface ManifestsTable {
  repository: string;
  digest: string;
  media_type: string;
  artifact_type: string | null;
  subject_digest: string | null;
  annotations: string | null;
  size: Int;
  content: Buffer;
  created_at: Int;
}

export interface ManifestReferencesTable {
  repository: string;
  manifest_digest: string;
  child_digest: string;
  kind: string;
}

export interface TagsTable {
  repository: string;
  name: string;
  manifest_digest: string;
  updated_at: Int;
}

export interface UploadsTable {
  id: string;
  repository: string;
  size: Int;
  /** The request currently writing a chunk, and until when its claim holds. */
  writer: ColumnType<string | null, string | null | undefined, string | null>;
  lease_until: ColumnType<number | string | null, number | null | undefined, number | null>;
  created_at: Int;
  updated_at: Int;
}

export interface UsersTable {
  /** A UUID. */
  id: string;
  username: string;
  password_hash: string;
  admin: Flag;
  disabled: Flag;
  created_at: Int;
}

export interface NamespacesTable {
  name: string;
  /** 'public' | 'private' */
  visibility: string;
  created_at: Int;
}

export interface MembersTable {
  namespace: string;
  /** users.id; deleting the user deletes the membership. */
  user_id: string;
  /** One of ROLES. */
  role: string;
}

export interface RobotsTable {
  id: string;
  name: string;
  namespace: string | null;
  secret_hash: string;
  /** JSON array of repository actions. */
  actions: string;
  expires_at: NullableInt;
  revoked: Flag;
  last_used_at: NullableInt;
  created_by: string;
  created_at: Int;
}

export interface AuditTable {
  /** Identity (PostgreSQL) / INTEGER PRIMARY KEY AUTOINCREMENT (SQLite); bigint comes back as a string from pg. */
  id: Generated<number | string>;
  at: Int;
  actor: string;
  action: string;
  source: string | null;
  repository: string | null;
  reference: string | null;
  digest: string | null;
  /** JSON object or null. */
  detail: string | null;
}

export interface SettingsTable {
  key: string;
  value: string;
}

// --- policies (migration 0030_policies): immutable tags, quotas, manifest tracking

export interface ImmutableRulesTable {
  id: string;
  /** A namespace name (the first path segment), whether or not access control knows it. */
  namespace: string;
  /** A glob over tag names: `*` any run of characters, `?` one character. */
  pattern: string;
  created_by: string;
  created_at: Int;
}

export interface NamespaceQuotasTable {
  namespace: string;
  limit_bytes: NullableInt;
  limit_repositories: NullableInt;
  updated_at: Int;
}

export interface ManifestStatsTable {
  repository: string;
  digest: string;
  pushed_at: NullableInt;
  pushed_by: ColumnType<string | null, string | null | undefined, string | null>;
  last_pulled_at: NullableInt;
  pull_count: Int;
}

// --- retention (migration 0040_retention)

export interface RetentionPoliciesTable {
  id: string;
  namespace: string;
  /** Glob over repository names below the namespace (`*` for all). */
  repositories: string;
  /** RetentionRules as JSON. */
  rules: string;
  enabled: Flag;
  created_by: string;
  created_at: Int;
  updated_at: Int;
  last_run_at: NullableInt;
  /** The last run's summary as JSON. */
  last_run: ColumnType<string | null, string | null | undefined, string | null>;
}

// --- vulnerability database (migration 0050_vulndb): OSV advisories, their packages, imports

export interface VulnAdvisoriesTable {
  id: string;
  modified: Int;
  /** The OSV JSON document. */
  content: string;
  imported_at: Int;
}

export interface VulnPackagesTable {
  advisory_id: string;
  ecosystem: string;
  family: string;
  name: string;
}

export interface VulnImportsTable {
  id: Generated<number | string>;
  source: string;
  started_at: Int;
  finished_at: Int;
  added: Int;
  updated: Int;
  removed: Int;
  skipped: Int;
  invalid: Int;
}

// --- signing keys and pull policies (migration 0060_signing)

export interface SigningKeysTable {
  id: string;
  namespace: string;
  name: string;
  /** PEM (SubjectPublicKeyInfo). */
  public_key: string;
  created_by: string;
  created_at: Int;
}

export interface PullPoliciesTable {
  namespace: string;
  require_signature: Flag;
  block_severity: ColumnType<string | null, string | null | undefined, string | null>;
  /** Advisory ids and aliases as a JSON array. */
  allow_advisories: string;
  updated_by: string;
  updated_at: Int;
}

// --- scans (migration 0070_scans)

export interface ScanJobsTable {
  digest: string;
  repository: string;
  reason: string;
  enqueued_at: Int;
  not_before: Int;
  attempts: Int;
  worker: ColumnType<string | null, string | null | undefined, string | null>;
  lease_until: NullableInt;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface ScanResultsTable {
  digest: string;
  repository: string;
  status: string;
  scanned_at: Int;
  vulndb_version: Int;
  inventory: ColumnType<string | null, string | null | undefined, string | null>;
  findings: ColumnType<string | null, string | null | undefined, string | null>;
  summary: string;
  error: ColumnType<string | null, string | null | undefined, string | null>;
}

// --- web UI sessions (migration 0090_sessions)

export interface SessionsTable {
  id_hash: string;
  user_id: string;
  username: string;
  csrf_token: string;
  source: string;
  created_at: Int;
  expires_at: Int;
}

export interface WebhooksTable {
  id: string;
  /** Null: system-wide. */
  namespace: ColumnType<string | null, string | null, string | null>;
  url: string;
  /** Event kinds as a JSON array. */
  events: string;
  repositories: ColumnType<string | null, string | null, string | null>;
  /** Kept as given: it signs every delivery. */
  secret: string;
  enabled: Flag;
  created_by: string;
  created_at: Int;
  updated_at: Int;
}

type NullableText = ColumnType<string | null, string | null | undefined, string | null>;

export interface WebhookDeliveriesTable {
  id: Generated<number | string>;
  webhook_id: string;
  event_id: string;
  action: string;
  /** The envelope event as JSON. */
  payload: string;
  /** pending, delivered or failed. */
  state: string;
  attempts: Int;
  created_at: Int;
  next_attempt_at: Int;
  worker: NullableText;
  lease_until: NullableInt;
  last_attempt_at: NullableInt;
  status_code: NullableInt;
  duration_ms: NullableInt;
  error: NullableText;
  response_excerpt: NullableText;
}

export interface ReplicationRulesTable {
  id: string;
  /** Null: system-wide. */
  namespace: NullableText;
  /** push or pull. */
  direction: string;
  remote_url: string;
  username: NullableText;
  password: NullableText;
  repositories: string;
  tags: NullableText;
  referrers: Flag;
  /** event, schedule or manual. */
  trigger: string;
  interval_ms: NullableInt;
  enabled: Flag;
  last_scheduled_at: NullableInt;
  created_by: string;
  created_at: Int;
  updated_at: Int;
}

export interface ReplicationRunsTable {
  id: string;
  rule_id: string;
  trigger: string;
  repository: NullableText;
  reference: NullableText;
  /** queued, running, done or failed. */
  state: string;
  attempts: Int;
  created_at: Int;
  not_before: Int;
  worker: NullableText;
  lease_until: NullableInt;
  started_at: NullableInt;
  finished_at: NullableInt;
  manifests: Int;
  blobs: Int;
  bytes: Int;
  error: NullableText;
}

export interface Database {
  repositories: RepositoriesTable;
  blobs: BlobsTable;
  repository_blobs: RepositoryBlobsTable;
  manifests: ManifestsTable;
  manifest_references: ManifestReferencesTable;
  tags: TagsTable;
  uploads: UploadsTable;
  users: UsersTable;
  namespaces: NamespacesTable;
  members: MembersTable;
  robots: RobotsTable;
  audit: AuditTable;
  settings: SettingsTable;
  immutable_rules: ImmutableRulesTable;
  namespace_quotas: NamespaceQuotasTable;
  manifest_stats: ManifestStatsTable;
  retention_policies: RetentionPoliciesTable;
  scan_jobs: ScanJobsTable;
  scan_results: ScanResultsTable;
  vuln_advisories: VulnAdvisoriesTable;
  vuln_packages: VulnPackagesTable;
  vuln_imports: VulnImportsTable;
  signing_keys: SigningKeysTable;
  pull_policies: PullPoliciesTable;
  sessions: SessionsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  audit_outbox: AuditOutboxTable;
  external_users: ExternalUsersTable;
  mfa_totp: MfaTotpTable;
  mfa_recovery_codes: MfaRecoveryCodesTable;
  replication_rules: ReplicationRulesTable;
  replication_runs: ReplicationRunsTable;
  oidc_flows: OidcFlowsTable;
  oidc_cli_logins: OidcCliLoginsTable;
  cli_secrets: CliSecretsTable;
  gc_scans: GcScansTable;
}

// --- garbage collection's listings of the blob store (migration 0130_gc_scans)

export interface GcScansTable {
  name: string;
  /** When the last listing started (claimed by one collector), epoch ms. */
  started_at: Int;
}

// --- single sign-on (migration 0120_oidc)

export interface OidcFlowsTable {
  /** The `state` sent to the provider (random). */
  state: string;
  /** SHA-256 of the cookie that ties the flow to the browser that started it. */
  binding_hash: string;
  nonce: string;
  /** PKCE code verifier (only its S256 challenge went to the provider). */
  code_verifier: string;
  /** The command-line login this browser flow completes, if any. */
  cli_login: NullableText;
  expires_at: Int;
}

export interface OidcCliLoginsTable {
  id: string;
  /** SHA-256 of the token the command line polls with. */
  poll_hash: string;
  /** Shown both by the command line and the browser, so the person can compare them. */
  user_code: string;
  /** What the secret will be called (e.g. the command line's host name). */
  label: string;
  /** Set once the browser flow finished. */
  username: NullableText;
  expires_at: Int;
}

export interface CliSecretsTable {
  id: string;
  username: string;
  /** SHA-256 of the secret (high-entropy secrets need no slow hash). */
  secret_hash: string;
  label: string;
  created_at: Int;
  expires_at: Int;
  last_used_at: NullableInt;
  revoked_at: NullableInt;
}

// --- identity (migration 0100_identity)

export interface AuditOutboxTable {
  sink: string;
  event_id: Int;
  worker: string | null;
  /** Epoch ms before which nobody else may claim the row (a lease, or a retry delay). */
  lease_until: ColumnType<number | string, number | undefined, number>;
  attempts: ColumnType<number | string, number | undefined, number>;
}

export interface ExternalUsersTable {
  username: string;
  /** `ldap` */
  provider: string;
  /** The account's DN in the directory. */
  subject: string;
  synced_at: Int;
}

export interface MfaTotpTable {
  username: string;
  /** Base32 TOTP secret. */
  secret: string;
  confirmed: Flag;
  /** The last time step a code was accepted for (replays are refused). */
  last_step: ColumnType<number | string, number | undefined, number>;
  /** When the enrolment started; once confirmed, when it was confirmed. */
  created_at: Int;
}

export interface MfaRecoveryCodesTable {
  username: string;
  /** SHA-256 of the code (high-entropy codes need no slow hash). */
  code_hash: string;
  used_at: NullableInt;
}

export function toNumber(value: number | string | bigint): number {
  return typeof value === 'number' ? value : Number(value);
}

/** A nullable epoch-milliseconds column as a Date (or null). */
export function dateOrNull(value: number | string | null): Date | null {
  return value === null ? null : new Date(toNumber(value));
}
