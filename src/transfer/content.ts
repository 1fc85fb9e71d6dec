// Shared pieces of the commands that copy images (export, import, mirror, replicate): progress
// reporting, and what a manifest points at (manifestRefs, parsed with the rules a push is
// checked with, so whatever is copied is also accepted here).
import { Transform } from 'node:stream';

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

export { manifestRefs, type ManifestRefs, type Ref } from '../registry/manifest.js';

