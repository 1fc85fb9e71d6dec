// The contract every extractor follows: which image files it reads, how many bytes it may
// buffer, and a parse from those bytes to OS release and package records.
import type { InstalledPackage, OsRelease } from '../model.js';

/** A package as an extractor reads it; the inventory adds the layer and the purl (which needs the OS release). */
export type FoundPackage = Omit<InstalledPackage, 'purl' | 'layer' | 'path'> & {
  /** Set when the record sits inside the file (e.g. a jar nested in a jar); defaults to the file's path. */
  path?: string;
};

export interface Found {
  os?: OsRelease;
  packages: FoundPackage[];
}

export interface FileInfo {
  /** Path in the image, without a leading slash. */
  path: string;
  size: number;
  mode: number;
}

export interface Extractor {
  name: string;
  matches(file: FileInfo): boolean;
  /** Largest file read; a larger one is skipped, or read up to this size when `truncate` is set. */
  maxBytes: number;
  /** Headers-first formats (Python METADATA) are still useful when cut short. */
  truncate?: boolean;
  /** Required leading bytes; the file is skipped unread as soon as they differ. */
  magic?: Buffer;
  extract(data: Buffer, file: FileInfo): Found | Promise<Found>;
}

export const KiB = 1024;
export const MiB = 1024 * KiB;
