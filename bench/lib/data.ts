// Deterministic pseudo-random blob contents, generated on the fly in blocks so that a blob of
// any size can be hashed and then sent without ever being held in memory. Block i is a 1 MiB
// AES-CTR keystream (seeded) with i stamped into its first bytes, so every block differs.
import { createCipheriv, createHash } from 'node:crypto';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

const BLOCK = MiB;

function keystream(seed: string, length: number): Buffer {
  const key = createHash('sha256').update(`bench-key:${seed}`).digest();
  const iv = createHash('sha256').update(`bench-iv:${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  return Buffer.concat([cipher.update(Buffer.alloc(length)), cipher.final()]);
}

export class PatternData {
  private readonly base: Buffer;
  private cachedDigest: string | undefined;

  constructor(
    readonly seed: string,
    readonly size: number,
  ) {
    this.base = keystream(seed, Math.min(BLOCK, Math.max(size, 1)));
  }

  /** A fresh copy of block `i` (callers may hand it to a socket; it is never reused). */
  private block(i: number): Buffer {
    const length = Math.min(BLOCK, this.size - i * BLOCK);
    const buf = Buffer.allocUnsafe(length);
    this.base.copy(buf, 0, 0, length);
    if (length >= 8) {
      buf.writeUInt32BE(i, 0);
      buf.writeUInt32BE(0x5eed ^ i, 4);
    }
    return buf;
  }

  /** The bytes [start, end) as a sequence of buffers of at most 1 MiB. */
  *range(start = 0, end = this.size): Generator<Buffer> {
    if (start < 0 || end > this.size || start > end) throw new RangeError(`bad range ${start}-${end} of ${this.size}`);
    for (let i = Math.floor(start / BLOCK); i * BLOCK < end; i++) {
      const blockStart = i * BLOCK;
      const buf = this.block(i);
      const from = Math.max(0, start - blockStart);
      const to = Math.min(buf.length, end - blockStart);
      yield from === 0 && to === buf.length ? buf : buf.subarray(from, to);
    }
  }

  /** The whole content in one buffer: for small blobs only. */
  bytes(): Buffer {
    if (this.size > 64 * MiB) throw new Error('bytes() is for small blobs');
    return Buffer.concat([...this.range()], this.size);
  }

  /** sha256 digest of the content, computed by generating it once (not timed by callers). */
  digest(): string {
    if (this.cachedDigest === undefined) {
      const hash = createHash('sha256');
      for (const chunk of this.range()) hash.update(chunk);
      this.cachedDigest = `sha256:${hash.digest('hex')}`;
    }
    return this.cachedDigest;
  }
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}
