// The audit forwarding outbox: every audit event waits here, once per configured sink, until
// that sink has it. Nodes claim batches with a lease, so two nodes never send one event at
// the same time, and a node that dies mid-send hands its batch over when the lease ends.
import type { AuditEvent } from '../auth/model.js';

export interface ClaimedBatch {
  sink: string;
  worker: string;
  events: AuditEvent[];
  /** The highest number of earlier failed attempts among the batch's events. */
  attempts: number;
}

export interface AuditOutbox {
  /** Up to `limit` undelivered events of the sink (oldest first), leased to `worker` for `leaseMs`. */
  claim(sink: string, worker: string, limit: number, leaseMs: number): Promise<ClaimedBatch | undefined>;
  /** The batch was delivered: its events leave the outbox. */
  delivered(batch: ClaimedBatch): Promise<void>;
  /** The sink refused or was unreachable: the batch may be claimed again from `retryAt` (epoch ms). */
  failed(batch: ClaimedBatch, retryAt: number): Promise<void>;
  /** Drop the oldest events of the sink beyond `max` undelivered ones; how many were dropped. */
  trim(sink: string, max: number): Promise<number>;
  /** Undelivered events of the sink. */
  backlog(sink: string): Promise<number>;
}
