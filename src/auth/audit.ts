// Writes audit events. A failure to record is logged loudly but never fails the request that
// caused it (the operation already happened).
import type { Logger } from 'pino';
import type { AccessStore } from '../metadata/access-store.js';
import type { NewAuditEvent } from './model.js';

export type AuditInput = Partial<Omit<NewAuditEvent, 'actor' | 'action'>> & Pick<NewAuditEvent, 'actor' | 'action'>;

/** Pull records are frequent: they are written in batches, at most this long after the pull. */
const BATCH_MS = 200;
const BATCH_MAX = 500;

export class Auditor {
  private pending: NewAuditEvent[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: AccessStore,
    private readonly logger: Logger,
  ) {}

  /** Queue a frequent event (a pull) for the next batch. */
  later(event: AuditInput): void {
    this.pending.push({ source: null, repository: null, reference: null, digest: null, detail: null, at: new Date(), ...event });
    if (this.pending.length >= BATCH_MAX) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), BATCH_MS);
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      await this.store.appendAuditBatch(batch);
    } catch (err) {
      this.logger.error({ err, events: batch.length }, 'could not write the audit log');
    }
  }

  async record(event: AuditInput): Promise<void> {
    try {
      await this.store.appendAudit({
        source: null,
        repository: null,
        reference: null,
        digest: null,
        detail: null,
        ...event,
      });
    } catch (err) {
      this.logger.error({ err, action: event.action, actor: event.actor }, 'could not write the audit log');
    }
  }
}
