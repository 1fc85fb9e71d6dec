// Where forwarded audit events go: a syslog receiver (RFC 5424 over UDP, TCP with octet
// counting (RFC 6587), or TLS (RFC 5425)) or an HTTP endpoint. A sink's send() resolves only
// once the batch is as delivered as the transport can tell, and throws otherwise.
import { createHmac } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { hostname as machineName } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import type { Config } from '../config/schema.js';
import type { ForwardedAuditEvent } from './event-json.js';

export interface AuditSink {
  /** Stable name: the outbox keeps one queue per sink name. */
  readonly name: string;
  send(events: ForwardedAuditEvent[]): Promise<void>;
}

export interface SyslogOptions {
  url: string;
  caFile?: string | undefined;
  facility: number;
  appName: string;
  hostname?: string | undefined;
  timeoutMs: number;
}

const SEVERITY_WARNING = 4;
/** How long to wait for a stream receiver to close its end once every byte was sent. */
const CLOSE_WAIT_MS = 2_000;
const SEVERITY_NOTICE = 5;

/** Printable US-ASCII without spaces, at most `max` long, or the nil value `-` (RFC 5424 header fields). */
function headerField(value: string, max: number): string {
  const cleaned = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return cleaned === '' ? '-' : cleaned;
}

/** One RFC 5424 message: header, no structured data, the event as JSON for MSG. */
export function syslogMessage(event: ForwardedAuditEvent, options: Pick<SyslogOptions, 'facility' | 'appName'> & { hostname: string; procId: string }): string {
  const severity = event.action.endsWith('.failed') ? SEVERITY_WARNING : SEVERITY_NOTICE;
  const pri = options.facility * 8 + severity;
  const header = [
    `<${pri}>1`,
    event.time,
    headerField(options.hostname, 255),
    headerField(options.appName, 48),
    headerField(options.procId, 128),
    headerField(event.action, 32),
    '-',
  ].join(' ');
  return `${header} ${JSON.stringify(event)}`;
}

export class SyslogSink implements AuditSink {
  readonly name = 'syslog';
  private readonly protocol: 'udp' | 'tcp' | 'tls';
  private readonly host: string;
  private readonly port: number;
  private readonly hostname: string;

  constructor(private readonly options: SyslogOptions) {
    const url = new URL(options.url);
    this.protocol = url.protocol.slice(0, -1) as 'udp' | 'tcp' | 'tls';
    this.host = url.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(url.port);
    this.hostname = options.hostname ?? machineName();
  }

  async send(events: ForwardedAuditEvent[]): Promise<void> {
    const messages = events.map((e) => syslogMessage(e, { ...this.options, hostname: this.hostname, procId: String(process.pid) }));
    if (this.protocol === 'udp') return this.sendUdp(messages);
    return this.sendStream(messages);
  }

  /** One datagram per message. UDP cannot tell whether anyone received it: best effort only. */
  private async sendUdp(messages: string[]): Promise<void> {
    const socket = createSocket(this.host.includes(':') ? 'udp6' : 'udp4');
    try {
      for (const message of messages) {
        await new Promise<void>((resolve, reject) => socket.send(Buffer.from(message), this.port, this.host, (err) => (err ? reject(err) : resolve())));
      }
    } finally {
      socket.close();
    }
  }

  /**
   * A connection per batch: the frames, then our end of the stream, then wait for the
   * receiver to close its end. A receiver closes after reading to the end of the stream, so
   * the batch counts as delivered when it was read in full; a receiver that is down, resets
   * the connection or does not take the bytes within timeoutMs makes the batch fail and be
   * sent again. One that keeps its end open after taking every byte is given CLOSE_WAIT_MS,
   * then the batch counts as delivered (else it would be sent again forever).
   */
  private sendStream(messages: string[]): Promise<void> {
    const framed = messages.map((m) => {
      const bytes = Buffer.from(m);
      return Buffer.concat([Buffer.from(`${bytes.length} `), bytes]);
    });
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timers: NodeJS.Timeout[] = [];
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        socket.destroy();
        if (err) reject(err);
        else resolve();
      };
      const deadline = setTimeout(() => finish(new Error(`syslog receiver did not take the batch within ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
      timers.push(deadline);
      const onConnect = () => {
        socket.end(Buffer.concat(framed));
      };
      const socket: Socket =
        this.protocol === 'tls'
          ? tlsConnect({ host: this.host, port: this.port, ...(isIP(this.host) ? {} : { servername: this.host }), ...(this.options.caFile ? { ca: readFileSync(this.options.caFile) } : {}) }, onConnect)
          : netConnect({ host: this.host, port: this.port }, onConnect);
      socket.on('error', (err) => finish(err));
      socket.on('data', () => undefined);
      // Every byte is with the kernel and our FIN is sent.
      socket.on('finish', () => {
        clearTimeout(deadline);
        timers.push(setTimeout(() => finish(), Math.min(CLOSE_WAIT_MS, this.options.timeoutMs)));
      });
      socket.on('end', () => finish());
      socket.on('close', () => finish(new Error('syslog connection closed before the receiver finished reading')));
    });
  }
}

export interface HttpSinkOptions {
  url: string;
  bearerToken?: string | undefined;
  hmacSecret?: string | undefined;
  timeoutMs: number;
}

/** POST `{"events":[...]}`; any 2xx answer means delivered. */
export class HttpSink implements AuditSink {
  readonly name = 'http';

  constructor(private readonly options: HttpSinkOptions) {}

  async send(events: ForwardedAuditEvent[]): Promise<void> {
    const body = JSON.stringify({ events });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.options.bearerToken) headers['authorization'] = `Bearer ${this.options.bearerToken}`;
    if (this.options.hmacSecret) headers['x-registry-signature'] = `sha256=${createHmac('sha256', this.options.hmacSecret).update(body).digest('hex')}`;
    const response = await fetch(this.options.url, { method: 'POST', headers, body, redirect: 'error', signal: AbortSignal.timeout(this.options.timeoutMs) });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`audit sink answered ${response.status}`);
  }
}

/** The sinks the configuration names (none: forwarding is off). */
export function configuredSinks(config: Config): AuditSink[] {
  const { syslog, http } = config.auditForwarding;
  const sinks: AuditSink[] = [];
  if (syslog.url) sinks.push(new SyslogSink({ ...syslog, url: syslog.url }));
  if (http.url) sinks.push(new HttpSink({ ...http, url: http.url }));
  return sinks;
}
