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
  /** Queued frequent events; identical ones (same actor, source and target) are merged. */
  private pending = new Map<string, NewAuditEvent & { count: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: AccessStore,
    private readonly logger: Logger,
    /** Called after events were written (audit forwarding sends them right away). */
    private readonly onWritten: () => void = () => undefined,
  ) {}

  /**
   * Queue a frequent event (a pull) for the next batch. Repeats of the same event within a
   * batch become one record whose detail carries `count` (a hot image pulled a thousand times
   * a second is one row, not a thousand).
   */
  later(event: AuditInput): void {
    const full = { source: null, repository: null, reference: null, digest: null, detail: null, at: new Date(), ...event };
    const key = JSON.stringify([full.actor, full.action, full.source, full.repository, full.reference, full.digest, full.detail]);
    const queued = this.pending.get(key);
    if (queued) {
      queued.count++;
      queued.at = full.at;
    } else {
      this.pending.set(key, { ...full, count: 1 });
    }
    if (this.pending.size >= BATCH_MAX) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), BATCH_MS);
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending.values()].map(({ count, ...event }) =>
      count === 1 ? event : { ...event, detail: { ...(event.detail ?? {}), count } },
    );
    this.pending = new Map();
    if (batch.length === 0) return;
    try {
      await this.store.appendAuditBatch(batch);
      this.onWritten();
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
      this.onWritten();
    } catch (err) {
      this.logger.error({ err, action: event.action, actor: event.actor }, 'could not write the audit log');
    }
  }
}
