// What a manifest points at, for the commands that copy images (export, import, mirror): the
// blobs that must travel with it and, for an index, its child manifests. Parsed with the same
// rules a push is checked with, so whatever is copied will also be accepted here.
import { Transform } from 'node:stream';
import { parseManifest, requiredBlobs } from '../registry/manifest.js';

/** Progress of a command: counts, or byte counts with `unit: 'bytes'` (see cli/progress.ts). */
export type ProgressReporter = (phase: string, done: number, total?: number, unit?: 'bytes') => void;

/** A pass-through that reports each chunk's size (for byte progress). */
export function byteCounter(onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onBytes(chunk.length);
      cb(null, chunk);
    },
  });
}

export interface Ref {
  mediaType: string;
  digest: string;
  size: number;
}

export interface ManifestRefs {
  /** The media type the manifest declares (or the one it was served with). */
  mediaType: string;
  /** Config and layers (foreign layers left out: they live elsewhere). */
  blobs: Ref[];
  /** Child manifests of an index. */
  manifests: Ref[];
  /** The manifest this one refers to (signatures, SBOMs, ...). */
  subject?: string;
}

export function manifestRefs(bytes: Buffer, contentType: string | undefined): ManifestRefs {
  const parsed = parseManifest(bytes, contentType);
  const ref = (d: { mediaType: string; digest: { value: string }; size: number }): Ref => ({ mediaType: d.mediaType, digest: d.digest.value, size: d.size });
  return {
    mediaType: parsed.mediaType,
    blobs: requiredBlobs(parsed).map(ref),
    manifests: parsed.manifests.map(ref),
    ...(parsed.subject ? { subject: parsed.subject.digest.value } : {}),
  };
}

/** `*` matches any run of characters, `?` one: for --tags. */
export function globMatcher(glob: string): (value: string) => boolean {
  const source = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  const re = new RegExp(`^${source}$`);
  return (value) => re.test(value);
}
