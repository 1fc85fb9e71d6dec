// Versioned schema migrations, run at start (and by `registry migrate`). Each is written once
// for every SQL dialect; only column types differ. Never edit a released migration: add one.
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

export type SqlDialect = 'sqlite' | 'postgres';

function migrations(dialect: SqlDialect): Record<string, Migration> {
  const bytes = dialect === 'postgres' ? sql`bytea` : sql`blob`;
  // Listings are ordered by code point (what SQLite does by default); PostgreSQL needs the C
  // collation for that, whatever the database's locale.
  const text = (n: number) => (dialect === 'postgres' ? sql.raw(`varchar(${n}) collate "C"`) : sql.raw(`varchar(${n})`));
  return {
    '0001_initial': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('repositories')
          .addColumn('name', text(255), (c) => c.primaryKey())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('blobs')
          .addColumn('digest', text(200), (c) => c.primaryKey())
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('repository_blobs')
          .addColumn('repository', text(255), (c) => c.notNull().references('repositories.name').onDelete('cascade'))
          .addColumn('digest', text(200), (c) => c.notNull().references('blobs.digest'))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('repository_blobs_pk', ['repository', 'digest'])
          .execute();
        await db.schema.createIndex('repository_blobs_digest').on('repository_blobs').column('digest').execute();
        await db.schema
          .createTable('manifests')
          .addColumn('repository', text(255), (c) => c.notNull().references('repositories.name').onDelete('cascade'))
          .addColumn('digest', text(200), (c) => c.notNull())
          .addColumn('media_type', text(255), (c) => c.notNull())
          .addColumn('artifact_type', text(255))
          .addColumn('subject_digest', text(200))
          .addColumn('annotations', 'text')
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('content', bytes, (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('manifests_pk', ['repository', 'digest'])
          .execute();
        await db.schema.createIndex('manifests_subject').on('manifests').columns(['repository', 'subject_digest']).execute();
        await db.schema
          .createTable('manifest_references')
          .addColumn('repository', text(255), (c) => c.notNull())
          .addColumn('manifest_digest', text(200), (c) => c.notNull())
          .addColumn('child_digest', text(200), (c) => c.notNull())
          .addColumn('kind', text(16), (c) => c.notNull())
          .addPrimaryKeyConstraint('manifest_references_pk', ['repository', 'manifest_digest', 'child_digest', 'kind'])
          .addForeignKeyConstraint('manifest_references_manifest', ['repository', 'manifest_digest'], 'manifests', ['repository', 'digest'], (c) => c.onDelete('cascade'))
          .execute();
        await db.schema.createIndex('manifest_references_child').on('manifest_references').columns(['child_digest']).execute();
        await db.schema
          .createTable('tags')
          .addColumn('repository', text(255), (c) => c.notNull())
          .addColumn('name', text(128), (c) => c.notNull())
          .addColumn('manifest_digest', text(200), (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('tags_pk', ['repository', 'name'])
          .addForeignKeyConstraint('tags_manifest', ['repository', 'manifest_digest'], 'manifests', ['repository', 'digest'], (c) => c.onDelete('cascade'))
          .execute();
        await db.schema.createIndex('tags_manifest').on('tags').columns(['repository', 'manifest_digest']).execute();
        await db.schema
          .createTable('uploads')
          .addColumn('id', text(64), (c) => c.primaryKey())
          .addColumn('repository', text(255), (c) => c.notNull().references('repositories.name').onDelete('cascade'))
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('uploads_updated').on('uploads').column('updated_at').execute();
      },
    },
    // Upload chunks may arrive at different nodes: a claim keeps two writers apart.
    '0002_upload_claims': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('uploads').addColumn('writer', text(64)).execute();
        await db.schema.alterTable('uploads').addColumn('lease_until', 'bigint').execute();
      },
    },
    // Access control: accounts, namespaces and their members, robot accounts, the audit log and
    // settings shared by every node. Booleans are integer 0/1 on both dialects.
    '0010_access_control': {
      async up(db: Kysely<unknown>) {
        // An ever-increasing id: an identity column on PostgreSQL; on SQLite, AUTOINCREMENT so
        // ids of deleted rows are never reused.
        const serialId = dialect === 'postgres' ? 'bigint' : 'integer';
        await db.schema
          .createTable('users')
          .addColumn('id', text(64), (c) => c.primaryKey())
          .addColumn('username', text(255), (c) => c.notNull().unique())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('admin', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('namespaces')
          .addColumn('name', text(255), (c) => c.primaryKey())
          .addColumn('visibility', text(16), (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('members')
          .addColumn('namespace', text(255), (c) => c.notNull().references('namespaces.name').onDelete('cascade'))
          .addColumn('user_id', text(64), (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('role', text(16), (c) => c.notNull())
          .addPrimaryKeyConstraint('members_pk', ['namespace', 'user_id'])
          .execute();
        await db.schema.createIndex('members_user').on('members').column('user_id').execute();
        await db.schema
          .createTable('robots')
          .addColumn('id', text(64), (c) => c.primaryKey())
          .addColumn('name', text(255), (c) => c.notNull().unique())
          .addColumn('namespace', text(255))
          .addColumn('secret_hash', 'text', (c) => c.notNull())
          .addColumn('actions', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'bigint')
          .addColumn('revoked', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('last_used_at', 'bigint')
          .addColumn('created_by', text(255), (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('robots_namespace').on('robots').column('namespace').execute();
        await db.schema
          .createTable('audit')
          .addColumn('id', serialId, (c) => (dialect === 'postgres' ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement()))
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('actor', text(255), (c) => c.notNull())
          .addColumn('action', text(64), (c) => c.notNull())
          .addColumn('source', text(255))
          .addColumn('repository', text(255))
          .addColumn('reference', text(255))
          .addColumn('digest', text(200))
          .addColumn('detail', 'text')
          .execute();
        // Newest first by id is a backwards scan of the primary key; each filter pairs with id
        // so a filtered page is one index range, already in order.
        await db.schema.createIndex('audit_actor').on('audit').columns(['actor', 'id']).execute();
        await db.schema.createIndex('audit_action').on('audit').columns(['action', 'id']).execute();
        await db.schema.createIndex('audit_repository').on('audit').columns(['repository', 'id']).execute();
        await db.schema.createIndex('audit_at').on('audit').columns(['at', 'id']).execute();
        await db.schema
          .createTable('settings')
          .addColumn('key', text(255), (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();
      },
    },
    // Online garbage collection: a blob row being deleted carries the collector's token and a
    // lease (writers wait for it instead of linking a blob whose bytes are going away);
    // indexes for the collector's scans.
    '0020_gc': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('blobs').addColumn('deleting', text(64)).execute();
        await db.schema.alterTable('blobs').addColumn('deleting_until', 'bigint').execute();
        await db.schema.createIndex('repository_blobs_created').on('repository_blobs').column('created_at').execute();
        await db.schema.createIndex('manifest_references_repo_child').on('manifest_references').columns(['repository', 'child_digest']).execute();
        await db.schema.createIndex('manifests_created').on('manifests').column('created_at').execute();
      },
    },
    // Policies per namespace (by name: they work with access control off too): immutable-tag
    // rules and quotas; and per manifest who pushed it when, and its pulls (written in batches).
    // Quota usage needs no extra index: the primary keys of repository_blobs (repository,
    // digest) and repositories (name) serve the namespace prefix range scans.
    '0030_policies': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('immutable_rules')
          .addColumn('id', text(64), (c) => c.primaryKey())
          .addColumn('namespace', text(255), (c) => c.notNull())
          .addColumn('pattern', text(128), (c) => c.notNull())
          .addColumn('created_by', text(255), (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addUniqueConstraint('immutable_rules_pattern', ['namespace', 'pattern'])
          .execute();
        await db.schema
          .createTable('namespace_quotas')
          .addColumn('namespace', text(255), (c) => c.primaryKey())
          .addColumn('limit_bytes', 'bigint')
          .addColumn('limit_repositories', 'bigint')
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('manifest_stats')
          .addColumn('repository', text(255), (c) => c.notNull())
          .addColumn('digest', text(200), (c) => c.notNull())
          .addColumn('pushed_at', 'bigint')
          .addColumn('pushed_by', text(255))
          .addColumn('last_pulled_at', 'bigint')
          .addColumn('pull_count', 'bigint', (c) => c.notNull().defaultTo(0))
          .addPrimaryKeyConstraint('manifest_stats_pk', ['repository', 'digest'])
          .addForeignKeyConstraint('manifest_stats_manifest', ['repository', 'digest'], 'manifests', ['repository', 'digest'], (c) => c.onDelete('cascade'))
          .execute();
      },
    },
    '0040_retention': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('retention_policies')
          .addColumn('id', text(64), (c) => c.primaryKey())
          .addColumn('namespace', text(255), (c) => c.notNull())
          .addColumn('repositories', text(255), (c) => c.notNull())
          .addColumn('rules', 'text', (c) => c.notNull())
          .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
          .addColumn('created_by', text(255), (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('last_run_at', 'bigint')
          .addColumn('last_run', 'text')
          .execute();
        await db.schema.createIndex('retention_policies_namespace').on('retention_policies').column('namespace').execute();
      },
    },
    // The vulnerability database: OSV advisories (the JSON as imported), one row per package an
    // advisory names (looked up by ecosystem family and name), and one row per import (the
    // database version is the number of imports that changed something).
    '0050_vulndb': {
      async up(db: Kysely<unknown>) {
        const serialId = dialect === 'postgres' ? 'bigint' : 'integer';
        await db.schema
          .createTable('vuln_advisories')
          .addColumn('id', text(255), (c) => c.primaryKey())
          .addColumn('modified', 'bigint', (c) => c.notNull())
          .addColumn('content', 'text', (c) => c.notNull())
          .addColumn('imported_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('vuln_packages')
          .addColumn('advisory_id', text(255), (c) => c.notNull().references('vuln_advisories.id').onDelete('cascade'))
          .addColumn('ecosystem', text(255), (c) => c.notNull())
          .addColumn('family', text(64), (c) => c.notNull())
          .addColumn('name', text(512), (c) => c.notNull())
          .addPrimaryKeyConstraint('vuln_packages_pk', ['advisory_id', 'ecosystem', 'name'])
          .execute();
        await db.schema.createIndex('vuln_packages_lookup').on('vuln_packages').columns(['family', 'name']).execute();
        await db.schema
          .createTable('vuln_imports')
          .addColumn('id', serialId, (c) => (dialect === 'postgres' ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement()))
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('started_at', 'bigint', (c) => c.notNull())
          .addColumn('finished_at', 'bigint', (c) => c.notNull())
          .addColumn('added', 'bigint', (c) => c.notNull())
          .addColumn('updated', 'bigint', (c) => c.notNull())
          .addColumn('removed', 'bigint', (c) => c.notNull())
          .addColumn('skipped', 'bigint', (c) => c.notNull())
          .addColumn('invalid', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
    // Supply-chain policies per namespace (by name, like 0030): public keys that cosign
    // signatures are verified against, and what a pull requires (a valid signature, no findings
    // at or above a severity, except allow-listed advisories).
    '0060_signing': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('signing_keys')
          .addColumn('id', text(64), (c) => c.primaryKey())
          .addColumn('namespace', text(255), (c) => c.notNull())
          .addColumn('name', text(64), (c) => c.notNull())
          .addColumn('public_key', 'text', (c) => c.notNull())
          .addColumn('created_by', text(255), (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addUniqueConstraint('signing_keys_name', ['namespace', 'name'])
          .execute();
        await db.schema
          .createTable('pull_policies')
          .addColumn('namespace', text(255), (c) => c.primaryKey())
          .addColumn('require_signature', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('block_severity', text(16))
          .addColumn('allow_advisories', 'text', (c) => c.notNull())
          .addColumn('updated_by', text(255), (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
    // Image scans: a persistent job queue (one job per manifest digest, claimed with a lease so
    // a node that dies mid-scan hands it over) and the result per digest (content addressed: the
    // same image in two repositories is scanned once).
    '0070_scans': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('scan_jobs')
          .addColumn('digest', text(200), (c) => c.primaryKey())
          .addColumn('repository', text(255), (c) => c.notNull())
          .addColumn('reason', text(16), (c) => c.notNull())
          .addColumn('enqueued_at', 'bigint', (c) => c.notNull())
          .addColumn('not_before', 'bigint', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('worker', text(64))
          .addColumn('lease_until', 'bigint')
          .addColumn('last_error', 'text')
          .execute();
        await db.schema.createIndex('scan_jobs_due').on('scan_jobs').columns(['not_before', 'enqueued_at']).execute();
        await db.schema
          .createTable('scan_results')
          .addColumn('digest', text(200), (c) => c.primaryKey())
          .addColumn('repository', text(255), (c) => c.notNull())
          .addColumn('status', text(16), (c) => c.notNull())
          .addColumn('scanned_at', 'bigint', (c) => c.notNull())
          .addColumn('vulndb_version', 'bigint', (c) => c.notNull())
          .addColumn('inventory', 'text')
          .addColumn('findings', 'text')
          .addColumn('summary', 'text', (c) => c.notNull())
          .addColumn('error', 'text')
          .execute();
        await db.schema.createIndex('scan_results_version').on('scan_results').columns(['vulndb_version', 'digest']).execute();
      },
    },
    // Webhooks (per namespace, or system-wide when namespace is null) and their delivery
    // queue: one row per webhook and event, claimed with a lease like scan jobs; `id` orders the
    // deliveries of a webhook (sent one at a time, oldest first). Finished rows are the log.
    '0080_webhooks': {
      async up(db: Kysely<unknown>) {
        const serialId = dialect === 'postgres' ? 'bigint' : 'integer';
        await db.schema
          .createTable('webhooks')
          .addColumn('id', text(64), (c) => c.primaryKey())
          .addColumn('namespace', text(255))
          .addColumn('url', text(2048), (c) => c.notNull())
          .addColumn('events', 'text', (c) => c.notNull())
          .addColumn('repositories', text(255))
          .addColumn('secret', text(128), (c) => c.notNull())
          .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
          .addColumn('created_by', text(255), (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('webhooks_namespace').on('webhooks').column('namespace').execute();
        await db.schema
          .createTable('webhook_deliveries')
          .addColumn('id', serialId, (c) => (dialect === 'postgres' ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement()))
          .addColumn('webhook_id', text(64), (c) => c.notNull().references('webhooks.id').onDelete('cascade'))
          .addColumn('event_id', text(64), (c) => c.notNull())
          .addColumn('action', text(32), (c) => c.notNull())
          .addColumn('payload', 'text', (c) => c.notNull())
          .addColumn('state', text(16), (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
          .addColumn('worker', text(64))
          .addColumn('lease_until', 'bigint')
          .addColumn('last_attempt_at', 'bigint')
          .addColumn('status_code', 'integer')
          .addColumn('duration_ms', 'integer')
          .addColumn('error', 'text')
          .addColumn('response_excerpt', 'text')
          .execute();
        await db.schema.createIndex('webhook_deliveries_order').on('webhook_deliveries').columns(['webhook_id', 'state', 'id']).execute();
        await db.schema.createIndex('webhook_deliveries_due').on('webhook_deliveries').columns(['state', 'next_attempt_at']).execute();
      },
    },
    // Web UI login sessions: the session id is never stored, only its SHA-256 (a copy of the
    // database does not let anyone act as a logged-in user); shared by every node.
    '0090_sessions': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('sessions')
          .addColumn('id_hash', text(64), (c) => c.primaryKey())
          .addColumn('user_id', text(64), (c) => c.notNull())
          .addColumn('username', text(255), (c) => c.notNull())
          .addColumn('csrf_token', text(64), (c) => c.notNull())
          .addColumn('source', text(64), (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('sessions_expires').on('sessions').column('expires_at').execute();
      },
    },
    // Enterprise identity: the audit forwarding outbox (one row per event and sink, claimed in
    // batches with a lease, deleted once delivered), accounts that come from a directory (LDAP),
    // and second factors (a TOTP secret per user, single-use recovery codes).
    '0100_identity': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('audit_outbox')
          .addColumn('sink', text(32), (c) => c.notNull())
          .addColumn('event_id', 'bigint', (c) => c.notNull())
          .addColumn('worker', text(64))
          .addColumn('lease_until', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addPrimaryKeyConstraint('audit_outbox_pk', ['sink', 'event_id'])
          .execute();
        await db.schema.createIndex('audit_outbox_due').on('audit_outbox').columns(['sink', 'lease_until']).execute();
        await db.schema
          .createTable('external_users')
          .addColumn('username', text(255), (c) => c.primaryKey().references('users.username').onDelete('cascade'))
          .addColumn('provider', text(16), (c) => c.notNull())
          .addColumn('subject', text(1024), (c) => c.notNull())
          .addColumn('synced_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('mfa_totp')
          .addColumn('username', text(255), (c) => c.primaryKey().references('users.username').onDelete('cascade'))
          .addColumn('secret', text(64), (c) => c.notNull())
          .addColumn('confirmed', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('last_step', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('mfa_recovery_codes')
          .addColumn('username', text(255), (c) => c.notNull().references('users.username').onDelete('cascade'))
          .addColumn('code_hash', text(128), (c) => c.notNull())
          .addColumn('used_at', 'bigint')
          .addPrimaryKeyConstraint('mfa_recovery_codes_pk', ['username', 'code_hash'])
          .execute();
      },
    },
    // Replication rules (per namespace, or system-wide when namespace is null) and their runs:
    // a run is a queued job (claimed with a lease like scan jobs, retried with backoff) and,
    // once finished, the rule's history. The remote password is stored; the API never shows it.
    '0110_replication': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('replication_rules')
          .addColumn('id', text(64), (c) => c.primaryKey())
          .addColumn('namespace', text(255))
          .addColumn('direction', text(8), (c) => c.notNull())
          .addColumn('remote_url', text(2048), (c) => c.notNull())
          .addColumn('username', text(255))
          .addColumn('password', text(1024))
          .addColumn('repositories', text(255), (c) => c.notNull())
          .addColumn('tags', text(255))
          .addColumn('referrers', 'integer', (c) => c.notNull().defaultTo(1))
          .addColumn('trigger', text(16), (c) => c.notNull())
          .addColumn('interval_ms', 'bigint')
          .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
          .addColumn('last_scheduled_at', 'bigint')
          .addColumn('created_by', text(255), (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('replication_rules_namespace').on('replication_rules').column('namespace').execute();
        await db.schema
          .createTable('replication_runs')
          .addColumn('id', text(64), (c) => c.primaryKey())
          .addColumn('rule_id', text(64), (c) => c.notNull().references('replication_rules.id').onDelete('cascade'))
          .addColumn('trigger', text(16), (c) => c.notNull())
          .addColumn('repository', text(255))
          .addColumn('reference', text(200))
          .addColumn('state', text(16), (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('not_before', 'bigint', (c) => c.notNull())
          .addColumn('worker', text(64))
          .addColumn('lease_until', 'bigint')
          .addColumn('started_at', 'bigint')
          .addColumn('finished_at', 'bigint')
          .addColumn('manifests', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('blobs', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('error', 'text')
          .execute();
        await db.schema.createIndex('replication_runs_due').on('replication_runs').columns(['state', 'not_before']).execute();
        await db.schema.createIndex('replication_runs_rule').on('replication_runs').columns(['rule_id', 'created_at']).execute();
      },
    },
    // OpenID Connect single sign-on: browser flows waiting for the provider's answer (single
    // use, short-lived), command-line logins waiting for the browser (a device-style
    // handshake), and the personal CLI secrets people use as passwords (only SHA-256 stored).
    '0120_oidc': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('oidc_flows')
          .addColumn('state', text(64), (c) => c.primaryKey())
          .addColumn('binding_hash', text(64), (c) => c.notNull())
          .addColumn('nonce', text(64), (c) => c.notNull())
          .addColumn('code_verifier', text(128), (c) => c.notNull())
          .addColumn('cli_login', text(64))
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('oidc_cli_logins')
          .addColumn('id', text(64), (c) => c.primaryKey())
          .addColumn('poll_hash', text(64), (c) => c.notNull())
          .addColumn('user_code', text(16), (c) => c.notNull())
          .addColumn('label', text(255), (c) => c.notNull())
          .addColumn('username', text(255))
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('cli_secrets')
          .addColumn('id', text(64), (c) => c.primaryKey())
          .addColumn('username', text(255), (c) => c.notNull().references('users.username').onDelete('cascade'))
          .addColumn('secret_hash', text(64), (c) => c.notNull().unique())
          .addColumn('label', text(255), (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .addColumn('last_used_at', 'bigint')
          .addColumn('revoked_at', 'bigint')
          .execute();
        await db.schema.createIndex('cli_secrets_user').on('cli_secrets').column('username').execute();
      },
    },
    // When garbage collection last listed every stored blob (looking for bytes a crash left
    // unrecorded): scheduled collections list only once gc.unrecordedScanIntervalMs has passed
    // since, whichever node of a cluster ran it. One row per kind of listing.
    '0130_gc_scans': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('gc_scans')
          .addColumn('name', text(64), (c) => c.primaryKey())
          .addColumn('started_at', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
  };
}

export function migrationProvider(dialect: SqlDialect): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}
