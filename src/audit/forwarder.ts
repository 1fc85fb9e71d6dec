// Sends the audit log to external sinks (syslog, HTTP) from the persistent outbox: batches are
// claimed with a lease (one node sends a given event), deleted once the sink has them, and
// retried with a growing delay while the sink is down, after restarts too. The backlog is
// bounded: past `maxBacklog` undelivered events per sink the oldest are dropped, loudly.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { AuditOutbox } from '../metadata/audit-outbox.js';
import { forwardedEvent } from './event-json.js';
import type { AuditSink } from './sinks.js';

const BATCHES_PER_ROUND = 10;

export interface ForwarderOptions {
  maxBacklog: number;
  batchSize: number;
  pollMs: number;
  retryMs: number;
  maxRetryMs: number;
  leaseMs: number;
  /** Put in every event (`service`). */
  service: string;
  logger: Logger;
  onDelivered?: (sink: string, events: number) => void;
  onFailed?: (sink: string) => void;
  onDropped?: (sink: string, events: number) => void;
}

export class AuditForwarder {
  private readonly worker = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  /** Sinks waiting for their retry delay on this node: no point asking the database before. */
  private readonly pausedUntil = new Map<string, number>();

  constructor(
    private readonly outbox: AuditOutbox,
    private readonly sinks: readonly AuditSink[],
    private readonly options: ForwarderOptions,
  ) {}

  start(): void {
    if (!this.stopped || this.sinks.length === 0) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** New events were written: send them now rather than at the next poll. */
  poke(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  /** Stop polling; a batch being sent is finished (or released) first. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      let more = false;
      this.running = this.cycle()
        .then((m) => void (more = m))
        .finally(() => {
          this.running = undefined;
          const again = this.again || more;
          this.again = false;
          this.schedule(again ? 0 : this.options.pollMs);
        });
    }, delayMs);
    this.timer.unref();
  }

  /** One round over the sinks; true when a sink may have more to send right away. */
  private async cycle(): Promise<boolean> {
    let more = false;
    for (const sink of this.sinks) {
      try {
        const dropped = await this.outbox.trim(sink.name, this.options.maxBacklog);
        if (dropped > 0) {
          this.options.logger.warn({ sink: sink.name, dropped, maxBacklog: this.options.maxBacklog }, 'audit forwarding backlog full: oldest undelivered events dropped');
          this.options.onDropped?.(sink.name, dropped);
        }
        if ((this.pausedUntil.get(sink.name) ?? 0) > Date.now()) continue;
        // Bounded per round so one busy sink cannot starve the others or shutdown.
        let sent = 0;
        while (sent < BATCHES_PER_ROUND && !this.stopped && (await this.sendBatch(sink))) sent++;
        if (sent === BATCHES_PER_ROUND) more = true;
      } catch (err) {
        this.options.logger.warn({ err, sink: sink.name }, 'audit forwarding failed');
      }
    }
    return more;
  }

  /** One batch; true when a batch was delivered (there may be more). */
  private async sendBatch(sink: AuditSink): Promise<boolean> {
    const batch = await this.outbox.claim(sink.name, this.worker, this.options.batchSize, this.options.leaseMs);
    if (!batch) return false;
    try {
      await sink.send(batch.events.map((e) => forwardedEvent(e, this.options.service)));
    } catch (err) {
      const delay = Math.min(this.options.retryMs * 2 ** Math.min(batch.attempts, 20), this.options.maxRetryMs);
      const retryAt = Date.now() + delay;
      await this.outbox.failed(batch, retryAt);
      this.pausedUntil.set(sink.name, retryAt);
      this.options.logger.warn({ err, sink: sink.name, events: batch.events.length, retryInMs: delay }, 'audit sink unavailable; will retry');
      this.options.onFailed?.(sink.name);
      return false;
    }
    await this.outbox.delivered(batch);
    this.pausedUntil.delete(sink.name);
    this.options.onDelivered?.(sink.name, batch.events.length);
    return true;
  }
}
