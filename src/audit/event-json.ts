// The forwarded audit event: a stable, documented JSON shape (docs/security.md). Fields are
// only ever added; a change of meaning would be a new `schema` value.
import type { AuditEvent } from '../auth/model.js';

export const AUDIT_SCHEMA = 'registry.audit/v1';

/**
 * The log's event with `time` (RFC 3339, UTC, milliseconds) for `at`, the schema name, and
 * the registry's `auth.service` name. Field by field: docs/security.md.
 */
export type ForwardedAuditEvent = { schema: typeof AUDIT_SCHEMA; id: number; time: string } & Omit<AuditEvent, 'id' | 'at'> & { service: string };

export function forwardedEvent(event: AuditEvent, service: string): ForwardedAuditEvent {
  const { id, at, ...rest } = event;
  return { schema: AUDIT_SCHEMA, id, time: at.toISOString(), ...rest, service };
}
