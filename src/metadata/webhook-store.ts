// Webhooks and their delivery queue. Beside MetadataStore, on the same database: a delivery
// is a row per webhook and event, claimed with a lease (several nodes deliver), sent in the
// order it was queued within its webhook, and kept as the delivery log once finished.

export interface WebhookRecord {
  id: string;
  /** Null: a system-wide webhook (every namespace). */
  namespace: string | null;
  url: string;
  /** Event kinds subscribed (see events/model.ts). */
  events: string[];
  /** Glob over repository names; null: every repository. */
  repositories: string | null;
  secret: string;
  enabled: boolean;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

export type NewWebhook = Omit<WebhookRecord, 'id' | 'createdAt' | 'updatedAt'>;
export type WebhookChanges = Partial<Pick<WebhookRecord, 'url' | 'events' | 'repositories' | 'enabled' | 'secret'>>;

export type DeliveryState = 'pending' | 'delivered' | 'failed';

export interface NewDelivery {
  webhookId: string;
  eventId: string;
  /** The event kind (or `ping`). */
  action: string;
  /** The envelope event as JSON. */
  payload: string;
}

export interface DeliveryRecord extends NewDelivery {
  id: number;
  state: DeliveryState;
  attempts: number;
  createdAt: Date;
  nextAttemptAt: Date;
  lastAttemptAt: Date | null;
  statusCode: number | null;
  durationMs: number | null;
  error: string | null;
  responseExcerpt: string | null;
}

/** What one attempt found. */
export interface AttemptRecord {
  at: number;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  excerpt: string | null;
}

export interface ClaimedDelivery {
  delivery: DeliveryRecord;
  webhook: WebhookRecord;
}

export interface WebhookStore {
  /** The webhooks of a namespace, or the system-wide ones (null). */
  listWebhooks(namespace: string | null): Promise<WebhookRecord[]>;
  /** Every enabled webhook (to match events against). */
  listEnabled(): Promise<WebhookRecord[]>;
  getWebhook(namespace: string | null, id: string): Promise<WebhookRecord | undefined>;
  createWebhook(webhook: NewWebhook): Promise<WebhookRecord>;
  updateWebhook(namespace: string | null, id: string, changes: WebhookChanges): Promise<WebhookRecord | undefined>;
  /** Deletes its deliveries too. */
  deleteWebhook(namespace: string | null, id: string): Promise<WebhookRecord | undefined>;
  /** Delete every webhook of a namespace (and their deliveries), when the namespace goes; how many. */
  deleteNamespaceWebhooks(namespace: string): Promise<number>;
  /** Queue deliveries (in the order given; all or none). */
  enqueue(deliveries: NewDelivery[]): Promise<void>;
  /** A finished delivery that was never queued (a ping). */
  recordFinished(delivery: NewDelivery, state: Exclude<DeliveryState, 'pending'>, attempt: AttemptRecord): Promise<DeliveryRecord>;
  /** The oldest pending delivery of some enabled webhook that is due, unleased, and first in its webhook's line. */
  claim(worker: string, leaseMs: number): Promise<ClaimedDelivery | undefined>;
  /** Record an attempt by the worker holding the delivery: state `pending` retries at `retryAt`. */
  finish(id: number, worker: string, state: DeliveryState, attempt: AttemptRecord, retryAt?: number): Promise<boolean>;
  /** Newest first; `before` pages on by delivery id. */
  listDeliveries(webhookId: string, limit: number, before?: number): Promise<DeliveryRecord[]>;
  getDelivery(webhookId: string, id: number): Promise<DeliveryRecord | undefined>;
  /** Drop finished deliveries last touched before `cutoff`; how many. */
  prune(cutoff: number): Promise<number>;
}
