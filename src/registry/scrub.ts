// Scrub: read every blob back and check its digest and size, check that every manifest's
// references exist, and look for stored bytes no blob record names (orphans: left by a crash
// or by hand). With quarantine, a corrupt or missing blob is unrecorded (its links go, so
// clients get BLOB_UNKNOWN and push it again) and corrupt or orphaned bytes are moved aside,
// not deleted.
import { createHash } from 'node:crypto';
import type { BlobStore, StoredBlob } from '../storage/blob-store.js';
import type { BrokenReference, LinkRow, SqlGcStore } from '../metadata/sql-gc-store.js';
import { fromHash, parseDigest } from './digest.js';
import { DELETION_LEASE_MS } from './gc.js';
import { randomUUID } from 'node:crypto';

const PAGE = 200;
const ORPHAN_GRACE_MS = 3600_000;

export interface ScrubOptions {
  quarantine?: boolean;
  onProgress?: (phase: 'blobs' | 'manifests' | 'orphans', done: number, total: number) => void;
  /** Unrecorded bytes younger than this are a push in flight, not orphans (default 1 h). */
  orphanGraceMs?: number;
}

export interface OrphanBlob {
  digest: string;
  size: number;
  modifiedAt: string;
  quarantined?: boolean;
}

export interface BadBlob {
  digest: string;
  problem: 'missing' | 'corrupt' | 'size';
  expectedSize: number;
  actualSize?: number;
  actualDigest?: string;
  quarantined?: boolean;
}

export interface BrokenManifest {
  repository: string;
  digest: string;
  missing: BrokenReference[];
}

export interface ScrubReport {
  blobsChecked: number;
  bytesRead: number;
  manifestsChecked: number;
  badBlobs: BadBlob[];
  brokenManifests: BrokenManifest[];
  /** Stored bytes that no blob record names (older than the grace period). */
  orphanBlobs: OrphanBlob[];
  quarantined: number;
  durationMs: number;
}

export class Scrubber {
  constructor(
    private readonly store: SqlGcStore,
    private readonly blobs: BlobStore,
  ) {}

  async run(options: ScrubOptions = {}): Promise<ScrubReport> {
    const started = Date.now();
    const progress = options.onProgress ?? (() => undefined);
    const report: ScrubReport = { blobsChecked: 0, bytesRead: 0, manifestsChecked: 0, badBlobs: [], brokenManifests: [], orphanBlobs: [], quarantined: 0, durationMs: 0 };
    const totalBlobs = await this.store.countBlobs();
    let after: string | undefined;
    for (;;) {
      const page = await this.store.listBlobs(PAGE, after);
      for (const blob of page) {
        const bad = await this.checkBlob(blob.digest, blob.size, report);
        report.blobsChecked++;
        if (bad) {
          if (options.quarantine) bad.quarantined = await this.quarantine(bad);
          if (bad.quarantined) report.quarantined++;
          report.badBlobs.push(bad);
        }
        progress('blobs', report.blobsChecked, totalBlobs);
        await new Promise((res) => setImmediate(res));
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.digest;
    }

    const totalManifests = await this.store.countManifests();
    let afterManifest: LinkRow | undefined;
    for (;;) {
      const page = await this.store.listManifests(PAGE, afterManifest);
      for (const m of page) {
        const missing = await this.store.brokenReferences(m);
        if (missing.length) report.brokenManifests.push({ repository: m.repository, digest: m.digest, missing });
        report.manifestsChecked++;
        progress('manifests', report.manifestsChecked, totalManifests);
      }
      if (page.length < PAGE) break;
      afterManifest = page[page.length - 1];
    }
    await this.findOrphans(report, started - (options.orphanGraceMs ?? ORPHAN_GRACE_MS), options);
    report.durationMs = Date.now() - started;
    return report;
  }

  private async findOrphans(report: ScrubReport, cutoff: number, options: ScrubOptions): Promise<void> {
    const progress = options.onProgress ?? (() => undefined);
    let seen = 0;
    let batch: StoredBlob[] = [];
    const check = async () => {
      const recorded = await this.store.recordedBlobs(batch.map((b) => b.digest));
      for (const b of batch) {
        if (recorded.has(b.digest) || b.modifiedAt.getTime() >= cutoff) continue;
        const orphan: OrphanBlob = { digest: b.digest, size: b.size, modifiedAt: b.modifiedAt.toISOString() };
        if (options.quarantine && this.blobs.quarantine) {
          try {
            await this.blobs.quarantine(parseDigest(b.digest));
            orphan.quarantined = true;
            report.quarantined++;
          } catch {
            orphan.quarantined = false;
          }
        }
        report.orphanBlobs.push(orphan);
      }
      batch = [];
    };
    for await (const blob of this.blobs.listBlobs()) {
      batch.push(blob);
      progress('orphans', ++seen, seen);
      if (batch.length >= PAGE) await check();
    }
    await check();
  }

  private async checkBlob(digestValue: string, expectedSize: number, report: ScrubReport): Promise<BadBlob | undefined> {
    const digest = parseDigest(digestValue);
    const stat = await this.blobs.stat(digest);
    if (!stat) return { digest: digestValue, problem: 'missing', expectedSize };
    const hash = createHash(digest.algorithm);
    let size = 0;
    try {
      const stream = await this.blobs.read(digest);
      for await (const chunk of stream) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
    } catch {
      return { digest: digestValue, problem: 'missing', expectedSize };
    }
    report.bytesRead += size;
    const actual = fromHash(digest.algorithm, hash).value;
    if (actual !== digestValue) return { digest: digestValue, problem: 'corrupt', expectedSize, actualSize: size, actualDigest: actual };
    if (size !== expectedSize) return { digest: digestValue, problem: 'size', expectedSize, actualSize: size };
    return undefined;
  }

  /** Unrecord the blob (links and row) and move its bytes aside. */
  private async quarantine(bad: BadBlob): Promise<boolean> {
    const token = randomUUID();
    const claimed = await this.store.claimForDeletion(bad.digest, token, DELETION_LEASE_MS, { force: true });
    if (claimed === undefined) return false;
    const digest = parseDigest(bad.digest);
    try {
      if (bad.problem !== 'missing') {
        if (this.blobs.quarantine) await this.blobs.quarantine(digest);
        else await this.blobs.delete(digest);
      }
    } catch {
      await this.store.releaseClaim(bad.digest, token).catch(() => undefined);
      return false;
    }
    return this.store.finishDeletion(bad.digest, token);
  }
}
