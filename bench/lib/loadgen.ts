// A closed-loop HTTP/1.1 load generator on raw sockets, for what wrk cannot measure: wrk's
// parser is never told a response answers a HEAD, so it waits for the Content-Length bytes
// of a HEAD response forever. Each connection sends one pre-built request, waits for the
// whole response (headers, plus Content-Length bytes unless the method is HEAD), records the
// latency and sends the next, until the duration is over. Kept minimal so the generator
// costs far less CPU than the server it measures.
import { connect, type Socket } from 'node:net';

export interface LoadOptions {
  host: string;
  port: number;
  method: 'GET' | 'HEAD';
  path: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  non2xx: number;
  errors: number;
}

const CRLF2 = Buffer.from('\r\n\r\n');

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function loadgen(o: LoadOptions): Promise<LoadResult> {
  const request = Buffer.from(
    `${o.method} ${o.path} HTTP/1.1\r\nHost: ${o.host}:${o.port}\r\n` + Object.entries(o.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n',
  );
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const started = performance.now();
  const endAt = started + o.seconds * 1000;
  let lastDone = started;

  const runConnection = () =>
    new Promise<void>((resolveConnection) => {
      let socket: Socket;
      let pending: Buffer = Buffer.alloc(0);
      let sentAt = 0;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        socket.destroy();
        resolveConnection();
      };
      const send = () => {
        if (performance.now() >= endAt) return finish();
        sentAt = performance.now();
        socket.write(request);
      };
      const open = () => {
        pending = Buffer.alloc(0);
        socket = connect({ host: o.host, port: o.port, noDelay: true }, send);
        socket.on('data', (chunk: Buffer) => {
          pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
          const headerEnd = pending.indexOf(CRLF2);
          if (headerEnd === -1) return;
          const head = pending.toString('latin1', 0, headerEnd);
          let bodyLength = 0;
          if (o.method !== 'HEAD') {
            const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
            if (!m) {
              errors++;
              return finish(); // chunked or close-delimited bodies are not expected here
            }
            bodyLength = Number(m[1]);
          }
          const total = headerEnd + 4 + bodyLength;
          if (pending.length < total) return;
          const status = Number(head.slice(9, 12));
          if (status < 200 || status > 299) non2xx++;
          const now = performance.now();
          latencies.push(now - sentAt);
          lastDone = now;
          pending = pending.subarray(total);
          send();
        });
        socket.on('error', () => {
          errors++;
        });
        socket.on('close', () => {
          if (finished) return;
          // Reconnect if the server closed a keep-alive connection while time is left.
          if (performance.now() < endAt) open();
          else finish();
        });
      };
      open();
    });

  return Promise.all(Array.from({ length: o.connections }, runConnection)).then(() => {
    const sorted = Float64Array.from(latencies).sort();
    const seconds = (lastDone - started) / 1000;
    return {
      requests: latencies.length,
      seconds,
      requestsPerSecond: latencies.length / seconds,
      latencyMs: { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN },
      non2xx,
      errors,
    };
  });
}
