// Streams one layer blob as tar entries: gzip, zstd or plain tar told apart by their first
// bytes (media types are not always right). Nothing goes to disk.
import * as zlib from 'node:zlib';
import { PassThrough, Readable, type Transform, pipeline } from 'node:stream';
import { extract, type Header } from 'tar-stream';

export interface ImageLayer {
  digest: string;
  mediaType: string;
  open(): Promise<Readable>;
}

/** A layer the inventory cannot read (compression it does not support, or not a tar). */
export class LayerFormatError extends Error {
  constructor(
    readonly digest: string,
    message: string,
  ) {
    super(`layer ${digest}: ${message}`);
    this.name = 'LayerFormatError';
  }
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/** The first chunk, and a stream that yields it again followed by the rest. */
async function peek(stream: Readable): Promise<{ head: Buffer; body: Readable }> {
  const it = stream[Symbol.asyncIterator]();
  const first = await it.next();
  const head: Buffer = first.done ? Buffer.alloc(0) : Buffer.from(first.value as Uint8Array);
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value as Buffer;
  }
  return { head, body: Readable.from(rest(), { objectMode: false }) };
}

/**
 * zstd comes with Node's zlib from Node 22.15; on older Node a zstd layer is refused. (The
 * pure-JS decoder fzstd was tried and rejected: it silently mis-decoded a --long=27 stream.)
 */
const createZstdDecompress = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;

function zstdUnsupported(layer: ImageLayer): LayerFormatError {
  return new LayerFormatError(
    layer.digest,
    `zstd-compressed layers (${layer.mediaType}) need Node.js >= 22.15 to be scanned (this is ${process.version}); push gzip or uncompressed layers to scan them`,
  );
}

/** Passes bytes through until more than `max` went by; then fails with the reason. */
function capped(layer: ImageLayer, max: number): Transform {
  let seen = 0;
  return new PassThrough({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > max) done(new LayerFormatError(layer.digest, `unpacks to more than ${max} bytes uncompressed (scan.maxLayerBytes); not scanned`));
      else done(null, chunk);
    },
  });
}

async function tarStream(layer: ImageLayer, maxBytes: number): Promise<Readable> {
  if (/zstd/i.test(layer.mediaType) && !createZstdDecompress) throw zstdUnsupported(layer);
  const { head, body } = await peek(await layer.open());
  let decompress: Transform | undefined;
  if (head.subarray(0, 4).equals(ZSTD_MAGIC)) {
    if (!createZstdDecompress) {
      body.destroy();
      throw zstdUnsupported(layer);
    }
    decompress = createZstdDecompress();
  } else if (head.subarray(0, 2).equals(GZIP_MAGIC)) decompress = zlib.createGunzip();
  const limit = capped(layer, maxBytes);
  if (decompress) pipeline(body, decompress, limit, () => {});
  else pipeline(body, limit, () => {});
  return limit;
}

export interface TarEntry {
  header: Header;
  /** Reads the body up to `max` bytes; undefined when it is larger (or `truncate`: the first `max` bytes) or lacks `magic`. */
  read(max: number, opts?: { truncate?: boolean; magic?: Buffer }): Promise<Buffer | undefined>;
  /** Drains the body without keeping it. */
  skip(): Promise<void>;
}

async function drainBody(body: AsyncIterable<unknown>, onChunk: (c: Buffer) => void): Promise<void> {
  for await (const chunk of body) onChunk(chunk as Buffer);
}

/** Every entry of the layer's tar, in order; the next one comes after the current one is read or skipped. */
export async function* tarEntries(layer: ImageLayer, maxBytes = Number.MAX_SAFE_INTEGER): AsyncGenerator<TarEntry> {
  const source = await tarStream(layer, maxBytes);
  const tar = extract();
  let failure: Error | undefined;
  pipeline(source, tar, (err) => {
    if (err) failure = err;
  });
  try {
    for await (const body of tar) {
      let consumed = false;
      const entry: TarEntry = {
        header: body.header,
        async read(max, opts = {}) {
          consumed = true;
          const declared = body.header.size ?? 0;
          if (declared > max && !opts.truncate) {
            await drainBody(body, () => {});
            return undefined;
          }
          const magic = opts.magic ?? Buffer.alloc(0);
          // The leading bytes are checked against the magic before the file's buffer is allocated;
          // then one buffer of the declared size, so a file costs its size once.
          let head = Buffer.alloc(0);
          let buf: Buffer | undefined;
          let size = 0;
          let keep = true;
          // Bytes past the cap, or of a file without the magic, are dropped as they stream by.
          await drainBody(body, (c) => {
            if (!keep) return;
            if (!buf) {
              head = Buffer.concat([head, c]);
              if (head.length < magic.length) return;
              if (!head.subarray(0, magic.length).equals(magic)) {
                keep = false;
                return;
              }
              buf = Buffer.allocUnsafe(Math.min(declared, max));
              c = head;
            }
            const take = Math.min(c.length, buf.length - size);
            if (take < c.length && !opts.truncate) keep = false;
            c.copy(buf, size, 0, take);
            size += take;
          });
          if (!keep || !buf) return declared === 0 && magic.length === 0 ? Buffer.alloc(0) : undefined;
          return size === buf.length ? buf : buf.subarray(0, size);
        },
        async skip() {
          consumed = true;
          await drainBody(body, () => {});
        },
      };
      yield entry;
      if (!consumed) await entry.skip();
    }
  } catch (err) {
    const cause = failure ?? (err as Error);
    if (cause instanceof LayerFormatError) throw cause;
    throw new LayerFormatError(layer.digest, `cannot read the layer as tar (${cause.message})`);
  } finally {
    tar.destroy();
    source.destroy();
  }
  if (failure instanceof LayerFormatError) throw failure;
  if (failure) throw new LayerFormatError(layer.digest, `cannot read the layer as tar (${failure.message})`);
}
