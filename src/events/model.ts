// Registry events: what the domain reports (pushes, pulls, deletes, finished scans, refused
// quotas, replications), and the CNCF Distribution notification envelope webhooks receive.
// Our own kinds use the same envelope, with an object of their own next to `target`.
import type { ScanSummary } from '../metadata/scan-store.js';

export const EVENT_KINDS = ['push', 'pull', 'delete', 'scan.finished', 'quota.exceeded', 'replication.done'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** The `action` of the envelope: Distribution's push/pull/delete, then ours. */
const ACTIONS: Record<EventKind | 'ping', string> = {
  push: 'push',
  pull: 'pull',
  delete: 'delete',
  'scan.finished': 'scan',
  'quota.exceeded': 'quota',
  'replication.done': 'replication',
  ping: 'ping',
};

/** Media type of the envelope (Distribution's). */
export const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';

/** The HTTP request that caused an event. */
export interface RequestInfo {
  id: string;
  addr: string;
  host: string;
  method: string;
  useragent: string;
  /** Base URL of the registry as the client reached it (for target.url). */
  baseUrl?: string;
}

interface EventBase {
  repository: string;
  /** Who caused it (user, robot, `anonymous`, or a subsystem such as `retention`); empty when unknown. */
  actor: string;
  request?: RequestInfo;
}

interface ManifestEvent extends EventBase {
  digest: string;
  mediaType: string;
  size: number;
  tag?: string;
}

export interface PushEvent extends ManifestEvent {
  kind: 'push';
}

export interface PullEvent extends ManifestEvent {
  kind: 'pull';
}

/** A tag removed (digest: where it pointed, when known), or a manifest deleted (no tag). */
export interface DeleteEvent extends EventBase {
  kind: 'delete';
  digest?: string;
  tag?: string;
  /** Why, for deletes no client asked for (`retention`, `gc`). */
  reason?: string;
}

export interface ScanFinishedEvent extends EventBase {
  kind: 'scan.finished';
  digest: string;
  status: string;
  summary: ScanSummary;
}

export interface QuotaExceededEvent extends EventBase {
  kind: 'quota.exceeded';
  namespace: string;
  quota: 'storage' | 'repositories';
  message: string;
  /** The limit and the usage that broke it. */
  detail: Record<string, unknown>;
}

/** A replication run finished (src/replication): its repository, tag or digest when it was triggered by a push. */
export interface ReplicationDoneEvent extends EventBase {
  kind: 'replication.done';
  digest?: string;
  tag?: string;
  /** The other registry. */
  peer: string;
  status: 'done' | 'failed';
}

export type RegistryEvent = PushEvent | PullEvent | DeleteEvent | ScanFinishedEvent | QuotaExceededEvent | ReplicationDoneEvent;

/** An event with its identity: stamped once by the bus, the same in every delivery of it. */
export type StampedEvent = RegistryEvent & { id: string; timestamp: string };

/** The emitting node (`source` of the envelope). */
export interface EventSource {
  addr: string;
  instanceID: string;
}

export interface EnvelopeEvent {
  id: string;
  timestamp: string;
  action: string;
  target: {
    mediaType?: string;
    size?: number;
    digest?: string;
    length?: number;
    repository: string;
    url?: string;
    tag?: string;
  };
  request?: Omit<RequestInfo, 'baseUrl'>;
  actor: { name?: string };
  source: EventSource;
  scan?: { status: string; summary: ScanSummary };
  quota?: { namespace: string; kind: string; message: string; detail: Record<string, unknown> };
  replication?: { peer: string; status: string };
  reason?: string;
}

export interface Envelope {
  events: EnvelopeEvent[];
}

/** The namespace an event belongs to (which namespace webhooks see it). */
export function namespaceOfEvent(e: RegistryEvent): string {
  if (e.kind === 'quota.exceeded') return e.namespace;
  const slash = e.repository.indexOf('/');
  return slash === -1 ? e.repository : e.repository.slice(0, slash);
}

/** One event in Distribution's notification format. */
export function toEnvelopeEvent(e: StampedEvent, source: EventSource): EnvelopeEvent {
  const digest = 'digest' in e ? e.digest : undefined;
  const sized = e.kind === 'push' || e.kind === 'pull' ? { mediaType: e.mediaType, size: e.size, length: e.size } : {};
  const url = digest && e.request?.baseUrl ? `${e.request.baseUrl}/v2/${e.repository}/manifests/${digest}` : undefined;
  const tag = 'tag' in e ? e.tag : undefined;
  const request = e.request ? { id: e.request.id, addr: e.request.addr, host: e.request.host, method: e.request.method, useragent: e.request.useragent } : undefined;
  return {
    id: e.id,
    timestamp: e.timestamp,
    action: ACTIONS[e.kind],
    target: {
      ...sized,
      ...(digest ? { digest } : {}),
      repository: e.repository,
      ...(url ? { url } : {}),
      ...(tag ? { tag } : {}),
    },
    ...(request ? { request } : {}),
    actor: e.actor ? { name: e.actor } : {},
    source,
    ...(e.kind === 'scan.finished' ? { scan: { status: e.status, summary: e.summary } } : {}),
    ...(e.kind === 'quota.exceeded' ? { quota: { namespace: e.namespace, kind: e.quota, message: e.message, detail: e.detail } } : {}),
    ...(e.kind === 'replication.done' ? { replication: { peer: e.peer, status: e.status } } : {}),
    ...(e.kind === 'delete' && e.reason ? { reason: e.reason } : {}),
  };
}

/** The test event a ping sends (action `ping`, no repository). */
export function pingEvent(id: string, source: EventSource, actor: string): EnvelopeEvent {
  return { id, timestamp: new Date().toISOString(), action: ACTIONS.ping, target: { repository: '' }, actor: { name: actor }, source };
}
