// A webhook receiver for tests: an HTTP server on 127.0.0.1 that checks each request's
// signature the way the documentation tells receivers to, records what arrived, and answers
// with the status the test chooses. It can be stopped and started again on the same port.
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN } from './api.js';
import { startRegistry, type TestRegistry } from './registry.js';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** The parsed envelope. */
  json: { events: Record<string, any>[] };
  /** Whether the signature matched the secret the test gave. */
  signed: boolean;
  /** What the receiver answered. */
  status: number;
}

/** Verify `X-Registry-Signature` as documented: HMAC-SHA256 over `<timestamp>.<raw body>`, within 5 minutes. */
export function verifySignature(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const timestamp = String(headers['x-registry-timestamp'] ?? '');
  const given = String(headers['x-registry-signature'] ?? '');
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

export class WebhookReceiver {
  readonly received: Received[] = [];
  /** The secret signatures are checked with (set once the webhook is created). */
  secret = '';
  /** The status to answer with, per request (default 200). */
  answer: (request: { body: string; count: number }) => number = () => 200;
  /** Read requests but never answer them. */
  silent = false;
  private server: Server | undefined;
  port = 0;

  static async start(port = 0): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver();
    await receiver.listen(port);
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async listen(port = this.port): Promise<void> {
    const server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const body = Buffer.concat(parts).toString('utf8');
        const status = this.silent ? 0 : this.answer({ body, count: this.received.length });
        let json: Received['json'] = { events: [] };
        try {
          json = JSON.parse(body) as Received['json'];
        } catch {
          // Recorded as is; the test's assertions will show it.
        }
        this.received.push({ headers: req.headers, body, json, signed: verifySignature(this.secret, req.headers, body), status });
        if (!this.silent) res.writeHead(status, { 'Content-Type': 'text/plain' }).end(status < 300 ? 'ok' : 'receiver error');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
  }

  /** Stop listening (connections are refused until listen() again). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** The events accepted (2xx) so far, in arrival order. */
  accepted(): Record<string, any>[] {
    return this.received.filter((r) => r.status >= 200 && r.status < 300).flatMap((r) => r.json.events);
  }

  /** Wait until `until` holds for the received requests (bounded). */
  async waitFor(until: (received: Received[]) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!until(this.received)) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; received: ${JSON.stringify(this.received.map((r) => r.json.events.map((e) => e['action']))).slice(0, 500)}`);
      await sleep(20);
    }
  }
}

/**
 * A registry with access control (ADMIN), no scanning unless asked, and webhooks that may
 * reach 127.0.0.1 with short retry delays; `webhooks` and `extra` override.
 */
export function webhookSettings(webhooks: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    auth: { enabled: true, initialAdminUsername: ADMIN.username, initialAdminPassword: ADMIN.password, throttleSlowAfter: 10_000, throttleRefuseAfter: 10_000 },
    scan: { enabled: false },
    ...extra,
    webhooks: { allowedHosts: ['127.0.0.1'], retryBaseMs: 40, retryMaxMs: 150, pollMs: 20, timeoutMs: 2_000, leaseMs: 5_000, ...webhooks },
  };
}

/** A registry with these settings and a receiver. */
export async function startWithReceiver(settings: Record<string, unknown>): Promise<{ reg: TestRegistry; receiver: WebhookReceiver }> {
  return { reg: await startRegistry(settings), receiver: await WebhookReceiver.start() };
}

/** Stop the receiver first (a delivery in flight then ends at once), then the registry. */
export async function stopBoth(reg: TestRegistry | undefined, receiver: WebhookReceiver | undefined): Promise<void> {
  await receiver?.stop();
  await reg?.close();
}
