// A TCP proxy in front of a backend (PostgreSQL, S3, Redis), so a test can take the backend
// away from a running registry: `stall` keeps connections open but forwards nothing (a backend
// that stopped answering), `close` drops every connection and the port (a backend gone).
import { connect, createServer, type Server, type Socket } from 'node:net';

/** A loopback port nothing listens on (free a moment ago). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private stalled = false;
  port = 0;

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** A proxy on a free loopback port forwarding to host:port. */
  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetHost, targetPort);
    await proxy.open();
    return proxy;
  }

  /** The URL with its host and port replaced by the proxy's. */
  via(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    const out = u.toString();
    return out.endsWith('/') && !url.endsWith('/') ? out.slice(0, -1) : out;
  }

  /** Listen again (on the same port after close()) and forward. */
  async open(): Promise<void> {
    this.stalled = false;
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.on('data', (d: Buffer) => this.stalled || upstream.write(d));
      upstream.on('data', (d: Buffer) => this.stalled || client.write(d));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Keep every connection but forward nothing either way. */
  stall(): void {
    this.stalled = true;
  }

  resume(): void {
    this.stalled = false;
  }

  /** Drop every connection and stop listening: the port refuses connections. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}
