// One webhook request: the body signed with the webhook's secret, sent to the address the
// target policy checked (never re-resolved), no redirects followed, a deadline on the whole
// exchange, and only a short excerpt of the answer kept.
import { createHmac } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { EVENTS_MEDIA_TYPE } from './model.js';
import type { ResolvedTarget } from './targets.js';
import type { AttemptRecord } from '../metadata/webhook-store.js';

/** Bytes of a receiver's answer kept in the delivery log. */
export const EXCERPT_BYTES = 512;

export const SIGNATURE_HEADER = 'X-Registry-Signature';
export const TIMESTAMP_HEADER = 'X-Registry-Timestamp';

/** What the receiver made of one request: a 2xx is ok. */
export interface SendResult extends Omit<AttemptRecord, 'at'> {
  ok: boolean;
}

/**
 * `sha256=` and the hex HMAC-SHA256, keyed with the secret, of `<timestamp>.<body>`: the
 * timestamp is signed too, so a captured request cannot be replayed later with a new one.
 */
export function signature(secret: string, timestamp: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

export interface SendOptions {
  secret: string;
  timeoutMs: number;
  headers?: Record<string, string>;
}

export async function send(target: ResolvedTarget, body: string, options: SendOptions): Promise<SendResult> {
  const started = Date.now();
  const timestamp = String(Math.floor(started / 1000));
  const payload = Buffer.from(body);
  // Connect to the checked address whatever the resolver would say now.
  const pinned: LookupFunction = (_hostname, opts, callback) => {
    if (opts.all) (callback as unknown as (err: null, addresses: { address: string; family: number }[]) => void)(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
  const request = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (result: Omit<SendResult, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve({ ...result, durationMs: Date.now() - started });
    };
    const req = request(
      target.url,
      {
        method: 'POST',
        lookup: pinned,
        // A connection of its own each time: no pooled socket outlives the check of its address.
        agent: false,
        headers: {
          'Content-Type': EVENTS_MEDIA_TYPE,
          'Content-Length': String(payload.length),
          'User-Agent': 'oci-registry-webhooks/1',
          [SIGNATURE_HEADER]: signature(options.secret, timestamp, payload),
          [TIMESTAMP_HEADER]: timestamp,
          ...options.headers,
        },
      },
      (res: IncomingMessage) => {
        const parts: Buffer[] = [];
        let kept = 0;
        res.on('data', (chunk: Buffer) => {
          if (kept >= EXCERPT_BYTES) return;
          parts.push(chunk.subarray(0, EXCERPT_BYTES - kept));
          kept += Math.min(chunk.length, EXCERPT_BYTES - kept);
          // Enough kept: stop reading a large answer.
          if (kept >= EXCERPT_BYTES) res.destroy();
        });
        const done = () => {
          const status = res.statusCode ?? 0;
          const ok = status >= 200 && status < 300;
          const excerpt = Buffer.concat(parts).toString('utf8');
          finish({
            ok,
            statusCode: status,
            error: ok ? null : status >= 300 && status < 400 ? `redirect to ${String(res.headers.location ?? '?').slice(0, 200)} not followed` : `answered ${status}`,
            excerpt: excerpt || null,
          });
        };
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      },
    );
    const deadline = setTimeout(() => {
      req.destroy();
      finish({ ok: false, statusCode: null, error: `no answer within ${options.timeoutMs} ms`, excerpt: null });
    }, options.timeoutMs);
    req.on('error', (err) => finish({ ok: false, statusCode: null, error: err.message.slice(0, 500), excerpt: null }));
    req.end(payload);
  });
}
