// The event bus: the domain emits, listeners (the webhook queue) record. Emitting never throws
// and never waits for a listener unless the caller chooses to await the returned promise (a
// push does, so that its event is queued before the push is acknowledged).
import { randomUUID } from 'node:crypto';
import type { RegistryEvent, StampedEvent } from './model.js';

export type EventListener = (event: StampedEvent) => Promise<void> | void;

export class EventBus {
  private readonly listeners: EventListener[] = [];
  private pending = new Set<Promise<void>>();

  constructor(private readonly onError: (err: unknown, event: StampedEvent) => void = () => undefined) {}

  subscribe(listener: EventListener): void {
    this.listeners.push(listener);
  }

  /** Hand the event to every listener; resolves when they are done, never rejects. */
  emit(event: RegistryEvent): Promise<void> {
    if (this.listeners.length === 0) return Promise.resolve();
    const stamped = { ...event, id: randomUUID(), timestamp: new Date().toISOString() } as StampedEvent;
    const done = Promise.all(
      this.listeners.map(async (listener) => {
        try {
          await listener(stamped);
        } catch (err) {
          this.onError(err, stamped);
        }
      }),
    ).then(() => undefined);
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
    return done;
  }

  /** Wait for the events emitted so far to be recorded (shutdown, tests). */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
