// The forwarded audit event: a stable, documented JSON shape (docs/security.md). Fields are
// only ever added; a change of meaning would be a new `schema` value.
import type { AuditEvent } from '../auth/model.js';

export const AUDIT_SCHEMA = 'registry.audit/v1';

export interface ForwardedAuditEvent {
  schema: typeof AUDIT_SCHEMA;
  /** The event's id in the registry's audit log (ascending; unique per registry database). */
  id: number;
  /** RFC 3339, UTC, millisecond precision. */
  time: string;
  actor: string;
  action: string;
  source: string | null;
  repository: string | null;
  reference: string | null;
  digest: string | null;
  detail: Record<string, unknown> | null;
  /** The registry that recorded it (the `auth.service` setting). */
  service: string;
}

export function forwardedEvent(event: AuditEvent, service: string): ForwardedAuditEvent {
  return {
    schema: AUDIT_SCHEMA,
    id: event.id,
    time: event.at.toISOString(),
    actor: event.actor,
    action: event.action,
    source: event.source,
    repository: event.repository,
    reference: event.reference,
    digest: event.digest,
    detail: event.detail,
    service,
  };
}
