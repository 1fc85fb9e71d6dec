// Webhooks: events matched against the enabled webhooks are queued as deliveries (in the
// database, so they survive a restart and any node may send them); background workers claim
// due deliveries, send them signed to a checked address, and retry failures with exponential
// backoff and jitter until maxAttempts, after which the delivery is `failed` and the
// webhook's next one goes out.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AttemptRecord, DeliveryRecord, NewWebhook, WebhookChanges, WebhookRecord, WebhookStore } from '../metadata/webhook-store.js';
import { repositoryGlobMatch } from '../registry/glob.js';
import { namespaceOfEvent, pingEvent, toEnvelopeEvent, type EventSource, type StampedEvent } from './model.js';
import { send, type SendResult } from './sender.js';
import { TargetRefused, type TargetPolicy } from './targets.js';

/** The enabled webhooks are read again after this long (changes made on other nodes). */
const CACHE_MS = 2_000;
/** Events written per insert at most. */
const QUEUE_BATCH = 500;
/** Old log rows are pruned at most this often. */
const PRUNE_EVERY_MS = 3600_000;

export interface WebhookServiceOptions {
  /** Send deliveries from this node (workers); queuing happens either way. */
  deliver: boolean;
  workers: number;
  timeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  pollMs: number;
  leaseMs: number;
  logRetentionMs: number;
  source: EventSource;
  logger: Logger;
  /** Told of every queued delivery's attempt (metrics). */
  onAttempt?: (outcome: 'delivered' | 'retry' | 'failed', durationMs: number) => void;
}

/** The delay before retry number `attempt` (1 = first retry): doubling, capped, then jittered to 50-100 %. */
export function retryDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 40));
  return Math.round(exponential * (0.5 + random() / 2));
}

/** Whether the webhook wants this event. */
export function matches(webhook: Pick<WebhookRecord, 'namespace' | 'events' | 'repositories' | 'enabled'>, event: StampedEvent): boolean {
  if (!webhook.enabled || !webhook.events.includes(event.kind)) return false;
  const namespace = namespaceOfEvent(event);
  if (webhook.namespace !== null && webhook.namespace !== namespace) return false;
  if (webhook.repositories === null) return true;
  return repositoryGlobMatch(webhook.repositories, namespace, event.repository);
}

export function newSecret(): string {
  return randomBytes(32).toString('hex');
}

export class WebhookService {
  private readonly workerId = randomUUID();
  private cached: { at: number; webhooks: Promise<WebhookRecord[]> } | undefined;
  private buffer: { event: StampedEvent; resolve: () => void; reject: (err: unknown) => void }[] = [];
  /** The writer of buffered events, while it runs. */
  private queuing: Promise<void> | undefined;
  private running = false;
  private workers: Promise<void>[] = [];
  private wakers = new Set<() => void>();
  private lastPrune = 0;

  constructor(
    readonly store: WebhookStore,
    readonly targets: TargetPolicy,
    private readonly options: WebhookServiceOptions,
  ) {}

  /** Check a target URL (webhook.allowedHosts); throws TargetRefused. */
  checkUrl(url: string): string {
    return this.targets.check(url).toString();
  }

  async create(webhook: Omit<NewWebhook, 'secret'>): Promise<WebhookRecord> {
    const created = await this.store.createWebhook({ ...webhook, url: this.checkUrl(webhook.url), secret: newSecret() });
    this.cached = undefined;
    return created;
  }

  async update(namespace: string | null, id: string, changes: WebhookChanges): Promise<WebhookRecord | undefined> {
    const updated = await this.store.updateWebhook(namespace, id, changes.url !== undefined ? { ...changes, url: this.checkUrl(changes.url) } : changes);
    this.cached = undefined;
    // Re-enabled: its paused deliveries may go now.
    if (changes.enabled) this.wake();
    return updated;
  }

  async delete(namespace: string | null, id: string): Promise<WebhookRecord | undefined> {
    const deleted = await this.store.deleteWebhook(namespace, id);
    this.cached = undefined;
    return deleted;
  }

  /** The namespace is gone: its webhooks go too (a namespace created again under the name starts without them). */
  async deleteNamespace(namespace: string): Promise<number> {
    const removed = await this.store.deleteNamespaceWebhooks(namespace);
    this.cached = undefined;
    return removed;
  }

  /**
   * The bus listener: queue a delivery for every webhook that wants the event. Events are
   * written in batches, one insert for all that arrived while the previous one was written, so
   * a burst of pulls does not make a push wait behind one insert each; the order of events is
   * kept, so a webhook's deliveries are numbered in the order the events happened.
   */
  record = (event: StampedEvent): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      this.buffer.push({ event, resolve, reject });
      this.queuing ??= this.writeBuffered();
    });

  private async writeBuffered(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, QUEUE_BATCH);
      try {
        const webhooks = await this.enabledWebhooks();
        const rows = batch.flatMap(({ event }) => {
          const wanted = webhooks.filter((w) => matches(w, event));
          if (wanted.length === 0) return [];
          const payload = JSON.stringify(toEnvelopeEvent(event, this.options.source));
          return wanted.map((w) => ({ webhookId: w.id, eventId: event.id, action: event.kind, payload }));
        });
        await this.store.enqueue(rows);
        if (rows.length) this.wake();
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.queuing = undefined;
  }

  private enabledWebhooks(): Promise<WebhookRecord[]> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > CACHE_MS) {
      const webhooks = this.store.listEnabled();
      const entry = { at: now, webhooks };
      this.cached = entry;
      // A failed read is not kept: the next event reads again.
      webhooks.catch(() => {
        if (this.cached === entry) this.cached = undefined;
      });
    }
    return this.cached.webhooks;
  }

  /** Queue an earlier delivery's event again (at the end of the webhook's line). */
  async redeliver(webhook: WebhookRecord, delivery: DeliveryRecord): Promise<void> {
    await this.store.enqueue([{ webhookId: webhook.id, eventId: delivery.eventId, action: delivery.action, payload: delivery.payload }]);
    this.wake();
  }

  /** Send a test event now (not queued, not retried); the attempt is logged like a delivery. */
  async ping(webhook: WebhookRecord, actor: string): Promise<DeliveryRecord> {
    const event = pingEvent(randomUUID(), this.options.source, actor);
    const delivery = { webhookId: webhook.id, eventId: event.id, action: 'ping', payload: JSON.stringify(event) };
    const at = Date.now();
    const result = await this.attempt(webhook, delivery);
    return this.store.recordFinished(delivery, result.ok ? 'delivered' : 'failed', toAttempt(at, result));
  }

  start(): void {
    if (this.running || !this.options.deliver) return;
    this.running = true;
    for (let i = 0; i < this.options.workers; i++) this.workers.push(this.workerLoop());
  }

  /** Stop the workers (a delivery in flight finishes first) after queuing what was emitted. */
  async stop(): Promise<void> {
    await this.queuing;
    this.running = false;
    this.wake();
    await Promise.all(this.workers);
    this.workers = [];
  }

  private wake(): void {
    for (const w of this.wakers) w();
  }

  private async workerLoop(): Promise<void> {
    while (this.running) {
      let worked = false;
      try {
        worked = await this.runOne();
        await this.pruneNowAndThen();
      } catch (err) {
        this.options.logger.warn({ err }, 'webhook worker error');
      }
      if (worked || !this.running) continue;
      await new Promise<void>((res) => {
        const wake = () => {
          clearTimeout(timer);
          this.wakers.delete(wake);
          res();
        };
        const timer = setTimeout(wake, this.options.pollMs);
        this.wakers.add(wake);
      });
    }
  }

  private async pruneNowAndThen(): Promise<void> {
    const now = Date.now();
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    const removed = await this.store.prune(now - this.options.logRetentionMs);
    if (removed) this.options.logger.info({ removed }, 'pruned the webhook delivery log');
  }

  /** Claim one due delivery and send it; false when none was due. */
  async runOne(): Promise<boolean> {
    const claimed = await this.store.claim(this.workerId, this.options.leaseMs);
    if (!claimed) return false;
    const { delivery, webhook } = claimed;
    const at = Date.now();
    const result = await this.attempt(webhook, delivery);
    const attempts = delivery.attempts + 1;
    const attempt = toAttempt(at, result);
    const outcome = result.ok ? 'delivered' : attempts >= this.options.maxAttempts ? 'failed' : 'retry';
    this.options.onAttempt?.(outcome, result.durationMs);
    if (outcome === 'delivered') {
      await this.store.finish(delivery.id, this.workerId, 'delivered', attempt);
    } else if (outcome === 'failed') {
      await this.store.finish(delivery.id, this.workerId, 'failed', attempt);
      this.options.logger.warn({ webhook: webhook.id, delivery: delivery.id, attempts, error: result.error }, 'webhook delivery failed; giving up');
    } else {
      const retryAt = Date.now() + retryDelay(attempts, this.options.retryBaseMs, this.options.retryMaxMs);
      await this.store.finish(delivery.id, this.workerId, 'pending', attempt, retryAt);
      this.options.logger.info({ webhook: webhook.id, delivery: delivery.id, attempts, error: result.error }, 'webhook delivery failed; will retry');
    }
    return true;
  }

  /** One signed POST of the envelope to the webhook's target, checked against the allow-list after resolving. */
  private async attempt(webhook: WebhookRecord, d: Pick<DeliveryRecord, 'eventId' | 'action' | 'payload'> & { id?: number }): Promise<SendResult> {
    const started = Date.now();
    let target;
    try {
      target = await this.targets.resolveTarget(webhook.url);
    } catch (err) {
      if (!(err instanceof TargetRefused)) throw err;
      return { ok: false, statusCode: null, durationMs: Date.now() - started, error: `refused: ${err.message}`, excerpt: null };
    }
    return send(target, `{"events":[${d.payload}]}`, {
      secret: webhook.secret,
      timeoutMs: this.options.timeoutMs,
      headers: {
        'X-Registry-Event': d.action,
        'X-Registry-Event-Id': d.eventId,
        'X-Registry-Webhook': webhook.id,
        ...(d.id !== undefined ? { 'X-Registry-Delivery': String(d.id) } : {}),
      },
    });
  }
}

function toAttempt(at: number, { ok: _ok, ...result }: SendResult): AttemptRecord {
  return { at, ...result };
}
