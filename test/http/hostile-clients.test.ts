// Slow and malformed clients over raw sockets: headers sent a byte at a time, upload bodies that
// stall, idle connections by the dozen, oversized headers and manifests, a Content-Length that
// is never honoured, chunked bodies with garbage. Each is answered with a spec error body (or,
// where the HTTP parser itself gives up, closed) within a bound, the registry keeps serving
// others, and nothing is created: no blob, no manifest, no repository, and an upload session
// keeps its last acknowledged offset and can go on.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { MediaType, checkErrorBody, expectStatus, locationOf, randomBytes, sha256, startUpload } from '../helpers/oci.js';

const HEADERS_TIMEOUT_MS = 600;
const BODY_IDLE_MS = 600;
/** How long past a timeout an answer may take (a loaded machine). */
const SLACK_MS = 3_000;

/** A raw connection: write anything, see what comes back and when the server closes it. */
class RawClient {
  private readonly chunks: Buffer[] = [];
  closedAt: number | undefined;
  private readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => this.chunks.push(c));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedAt = Date.now();
        resolve();
      }),
    );
  }

  static async open(port: number): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawClient(socket);
  }

  get text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }

  write(data: string | Buffer): boolean {
    return this.socket.destroyed ? false : this.socket.write(data);
  }

  /** Resolves once the server closed the connection; fails after `ms`. */
  async waitClosed(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still open after ${ms} ms; got: ${this.text.slice(0, 300)}`)), ms)));
    try {
      await Promise.race([this.closed, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves once a whole response (headers and Content-Length body) arrived; fails after `ms`. */
  async waitResponse(ms: number): Promise<{ status: number; headers: string; body: string }> {
    const deadline = Date.now() + ms;
    for (;;) {
      const text = this.text;
      const end = text.indexOf('\r\n\r\n');
      if (end >= 0) {
        const headers = text.slice(0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(headers)?.[1] ?? 0);
        if (text.length >= end + 4 + length) return { status: Number(headers.slice(9, 12)), headers, body: text.slice(end + 4, end + 4 + length) };
      }
      if (Date.now() > deadline || (this.closedAt !== undefined && end < 0)) throw new Error(`no whole response after ${ms} ms; got: ${text.slice(0, 300)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('hostile clients', () => {
  let reg: TestRegistry;
  let port: number;
  const clients: RawClient[] = [];

  before(async () => {
    reg = await startRegistry({ http: { headersTimeoutMs: HEADERS_TIMEOUT_MS, bodyIdleTimeoutMs: BODY_IDLE_MS }, scan: { enabled: false } });
    port = Number(new URL(reg.url).port);
  });

  after(async () => {
    for (const c of clients) c.destroy();
    await reg?.close();
  });

  async function open(): Promise<RawClient> {
    const c = await RawClient.open(port);
    clients.push(c);
    return c;
  }

  const catalog = async () => ((await (await fetch(`${reg.url}/v2/_catalog`)).json()) as { repositories: string[] }).repositories;
  const blobExists = async (repo: string, digest: string) => (await fetch(`${reg.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' })).status === 200;

  test('headers sent a byte at a time: cut off after http.headersTimeoutMs', async () => {
    const c = await open();
    const started = Date.now();
    c.write('GET /v2/ HTTP/1.1\r\nHost: registry\r\nX-Slow: ');
    // Bounded: at most 100 bytes, one every 100 ms, while the connection lives.
    for (let i = 0; i < 100 && c.closedAt === undefined; i++) {
      c.write('a');
      await sleep(100);
    }
    await c.waitClosed(SLACK_MS);
    const elapsed = c.closedAt! - started;
    assert.ok(elapsed >= HEADERS_TIMEOUT_MS - 50 && elapsed < HEADERS_TIMEOUT_MS + SLACK_MS, `closed after ${elapsed} ms`);
    assert.match(c.text, /^HTTP\/1\.1 408 /);
    const { body } = await c.waitResponse(0);
    checkErrorBody(body, 'UNSUPPORTED');
  });

  test('many idle connections do not keep a normal client out, and are closed in time', async () => {
    const idle: RawClient[] = [];
    for (let i = 0; i < 60; i++) idle.push(await open());
    // Half say nothing at all, half send a partial request line.
    for (const [i, c] of idle.entries()) if (i % 2) c.write('GET /v2/_catalog HTTP/1.1\r\nHo');
    const started = Date.now();
    await expectStatus(await fetch(`${reg.url}/v2/`), 200);
    assert.ok(Date.now() - started < 1_000, `a normal request took ${Date.now() - started} ms`);
    await Promise.all(idle.map((c) => c.waitClosed(HEADERS_TIMEOUT_MS + SLACK_MS)));
  });

  test('oversized headers: 431 with an error body', async () => {
    const c = await open();
    c.write(`GET /v2/ HTTP/1.1\r\nHost: registry\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`);
    const res = await c.waitResponse(SLACK_MS);
    assert.equal(res.status, 431);
    checkErrorBody(res.body, 'UNSUPPORTED');
    await c.waitClosed(SLACK_MS);
  });

  test('a chunked body with garbage: 400 with an error body, the upload unchanged', async () => {
    const upload = await startUpload(reg.url, 'hostile/chunked');
    const c = await open();
    c.write(`PATCH ${upload.pathname}${upload.search} HTTP/1.1\r\nHost: registry\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz-not-hex\r\n`);
    const res = await c.waitResponse(SLACK_MS);
    assert.equal(res.status, 400);
    checkErrorBody(res.body, 'UNSUPPORTED');
    await c.waitClosed(SLACK_MS);
    const status = await fetch(upload, { method: 'GET' });
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-0');
  });

  test('an upload body that stalls: 408 after http.bodyIdleTimeoutMs; the session keeps its offset and goes on', async () => {
    const repo = 'hostile/stall';
    const data = randomBytes(3000);
    const digest = sha256(data);
    let upload = await startUpload(reg.url, repo);
    // A first chunk, acknowledged.
    const first = await fetch(upload, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '0-999' }, body: data.subarray(0, 1000) });
    assert.equal(first.status, 202);
    upload = locationOf(first, reg.url);

    // A second chunk sends half its bytes and stalls.
    const c = await open();
    const started = Date.now();
    c.write(`PATCH ${upload.pathname}${upload.search} HTTP/1.1\r\nHost: registry\r\nContent-Type: application/octet-stream\r\nContent-Range: 1000-2999\r\nContent-Length: 2000\r\n\r\n`);
    c.write(data.subarray(1000, 2000));
    const res = await c.waitResponse(BODY_IDLE_MS + SLACK_MS);
    const elapsed = Date.now() - started;
    assert.equal(res.status, 408, res.body);
    assert.ok(elapsed >= BODY_IDLE_MS - 50, `answered after ${elapsed} ms`);
    checkErrorBody(res.body, 'BLOB_UPLOAD_INVALID');
    assert.match(res.headers, /\r\nconnection: close/i);
    await c.waitClosed(SLACK_MS);

    // The session stands at the acknowledged offset; the client goes on from there.
    const status = await fetch(upload, { method: 'GET' });
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-999');
    const rest = await fetch(upload, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '1000-2999' }, body: data.subarray(1000) });
    assert.equal(rest.status, 202);
    const done = locationOf(rest, reg.url);
    done.searchParams.set('digest', digest);
    await expectStatus(await fetch(done, { method: 'PUT' }), 201);
    assert.deepEqual(await expectStatus(await fetch(`${reg.url}/v2/${repo}/blobs/${digest}`), 200), data);
  });

  test('a monolithic upload declaring a huge length and sending little: 408, no blob', async () => {
    const data = randomBytes(100);
    const digest = sha256(data);
    const c = await open();
    c.write(`POST /v2/hostile/huge/blobs/uploads/?digest=${digest} HTTP/1.1\r\nHost: registry\r\nContent-Type: application/octet-stream\r\nContent-Length: ${10 * 1024 ** 3}\r\n\r\n`);
    c.write(data);
    const res = await c.waitResponse(BODY_IDLE_MS + SLACK_MS);
    assert.equal(res.status, 408, res.body);
    checkErrorBody(res.body, 'BLOB_UPLOAD_INVALID');
    await c.waitClosed(SLACK_MS);
    assert.equal(await blobExists('hostile/huge', digest), false);
  });

  test('an oversized manifest: 413 before its body is read, and the connection closed', async () => {
    const c = await open();
    const declared = 64 * 1024 * 1024;
    c.write(`PUT /v2/hostile/manifest/manifests/v1 HTTP/1.1\r\nHost: registry\r\nContent-Type: ${MediaType.OciManifest}\r\nContent-Length: ${declared}\r\n\r\n{"schemaVersion":2,`);
    const res = await c.waitResponse(SLACK_MS);
    assert.equal(res.status, 413);
    checkErrorBody(res.body, 'SIZE_INVALID');
    // The server does not wait for (or read) the other 64 MiB.
    await c.waitClosed(SLACK_MS);

    // Streamed without a length, it is cut off at the limit all the same.
    const chunked = await open();
    chunked.write(`PUT /v2/hostile/manifest/manifests/v2 HTTP/1.1\r\nHost: registry\r\nContent-Type: ${MediaType.OciManifest}\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const piece = ' '.repeat(64 * 1024);
    // Bounded: at most 8 MiB (twice the default limit) unless the server answers first.
    for (let i = 0; i < 128 && chunked.closedAt === undefined && !chunked.text.includes('\r\n\r\n'); i++) {
      chunked.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
      await sleep(1);
    }
    const streamed = await chunked.waitResponse(SLACK_MS);
    assert.equal(streamed.status, 413);
    checkErrorBody(streamed.body, 'SIZE_INVALID');
    await chunked.waitClosed(SLACK_MS);
    assert.equal((await fetch(`${reg.url}/v2/hostile/manifest/manifests/v1`, { method: 'HEAD', headers: { Accept: MediaType.OciManifest } })).status, 404);
  });

  test('a body refused before it is read (an out-of-order chunk) leaves the keep-alive connection usable', async () => {
    const upload = await startUpload(reg.url, 'hostile/early');
    const c = await open();
    const body = randomBytes(256 * 1024);
    c.write(`PATCH ${upload.pathname}${upload.search} HTTP/1.1\r\nHost: registry\r\nContent-Type: application/octet-stream\r\nContent-Range: 5-${5 + body.length - 1}\r\nContent-Length: ${body.length}\r\n\r\n`);
    c.write(body);
    c.write('GET /v2/ HTTP/1.1\r\nHost: registry\r\n\r\n');
    const deadline = Date.now() + SLACK_MS;
    while (!/HTTP\/1\.1 416[\s\S]*HTTP\/1\.1 200 /.test(c.text)) {
      assert.ok(Date.now() < deadline && c.closedAt === undefined, `no second answer on the connection: ${c.text.slice(0, 400)}`);
      await sleep(20);
    }
  });

  test('nothing was created: only the repositories whose uploads were started properly are listed', async () => {
    // hostile/huge (monolithic, cut off) and hostile/manifest (refused) are not.
    assert.deepEqual(await catalog(), ['hostile/chunked', 'hostile/early', 'hostile/stall']);
    // The registry still serves.
    await expectStatus(await fetch(`${reg.url}/v2/`), 200);
  });
});
