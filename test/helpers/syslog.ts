// A syslog receiver for tests: RFC 5424 messages over UDP (one a datagram) or TCP (octet
// counting, RFC 6587), parsed into header fields and the JSON body. It can be stopped and
// started again on the same port, to play a SIEM outage.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';

export interface SyslogMessage {
  pri: number;
  version: string;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  structuredData: string;
  json: Record<string, unknown>;
  raw: string;
}

const HEADER = /^<(\d{1,3})>(\d) (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\]) (.*)$/s;

export function parseSyslog(raw: string): SyslogMessage {
  const m = HEADER.exec(raw);
  if (!m) throw new Error(`not an RFC 5424 message: ${raw.slice(0, 200)}`);
  return {
    pri: Number(m[1]),
    version: m[2]!,
    timestamp: m[3]!,
    hostname: m[4]!,
    appName: m[5]!,
    procId: m[6]!,
    msgId: m[7]!,
    structuredData: m[8]!,
    json: JSON.parse(m[9]!) as Record<string, unknown>,
    raw,
  };
}

/** Splits an octet-counted stream (`LEN SP MSG`...) into messages; throws on a bad frame. */
export class OctetCountingParser {
  private buffer = Buffer.alloc(0);
  push(chunk: Buffer): string[] {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const out: string[] = [];
    for (;;) {
      const space = this.buffer.indexOf(0x20);
      if (space < 0) break;
      const lengthText = this.buffer.subarray(0, space).toString('ascii');
      if (!/^[1-9]\d{0,8}$/.test(lengthText)) throw new Error(`bad frame length ${JSON.stringify(lengthText)}`);
      const length = Number(lengthText);
      if (this.buffer.length < space + 1 + length) break;
      out.push(this.buffer.subarray(space + 1, space + 1 + length).toString('utf8'));
      this.buffer = this.buffer.subarray(space + 1 + length);
    }
    return out;
  }
}

export class SyslogReceiver {
  readonly messages: SyslogMessage[] = [];
  readonly errors: string[] = [];
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  /** Keep connections open after the sender closed its end (as some relays do). */
  holdOpen = false;

  constructor(
    private readonly protocol: 'udp' | 'tcp' | 'tls',
    private readonly tls?: { key: Buffer; cert: Buffer },
  ) {}

  get url(): string {
    return `${this.protocol}://127.0.0.1:${this.port}`;
  }

  private take(raw: string): void {
    try {
      this.messages.push(parseSyslog(raw));
    } catch (err) {
      this.errors.push(String(err));
    }
  }

  async start(): Promise<void> {
    if (this.protocol === 'udp') {
      const udp = createSocket('udp4');
      udp.on('message', (msg) => this.take(msg.toString('utf8')));
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(this.port, '127.0.0.1', () => resolve());
      });
      this.udp = udp;
      this.port = udp.address().port;
      return;
    }
    const onConnection = (socket: Socket) => {
      this.sockets.add(socket);
      const parser = new OctetCountingParser();
      socket.on('data', (chunk: Buffer) => {
        try {
          for (const raw of parser.push(chunk)) this.take(raw);
        } catch (err) {
          this.errors.push(String(err));
          socket.destroy();
        }
      });
      // A receiver closes its end once the sender has closed its own.
      socket.on('end', () => {
        if (!this.holdOpen) socket.end();
      });
      socket.on('error', () => undefined);
      socket.on('close', () => this.sockets.delete(socket));
    };
    const server = this.protocol === 'tls' ? createTlsServer({ ...this.tls! }, onConnection) : createServer({ allowHalfOpen: true }, onConnection);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.tcp = server;
    this.port = (server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    if (this.udp) {
      const udp = this.udp;
      this.udp = undefined;
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    }
    if (this.tcp) {
      const tcp = this.tcp;
      this.tcp = undefined;
      for (const s of this.sockets) s.destroy();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    }
  }

  /** The JSON bodies received so far. */
  events(): Record<string, unknown>[] {
    return this.messages.map((m) => m.json);
  }
}
