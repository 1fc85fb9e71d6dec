// Online garbage collection: no read-only window, safe next to pushes and other collectors.
//
// 1. (optional) untagged manifests no index lists and no present subject keeps, older than the
//    review delay, are deleted;
// 2. blob links older than the review delay that no manifest of their repository references
//    are removed (each removal re-checks both conditions in the statement that removes);
// 3. blobs no repository links any more are claimed (a token and a lease on the blob row, only
//    while still unlinked), their bytes deleted, then their row. A push of a claimed blob waits
//    for the claim to end and stores the bytes anew; a mount of it falls back to an upload.
// 4. stored bytes no blob record names, older than the review delay (a crash between storing
//    a blob and recording it leaves them), are claimed the same way and deleted. Finding them
//    lists the whole blob store (on S3, a LIST request per 1000 blobs), so scheduled runs do it
//    only every unrecordedScanIntervalMs, whichever collector sharing the database did it last;
// 5. abandoned upload sessions past their TTL are purged.
//
// The review delay is what keeps a blob just uploaded or mounted, whose manifest has not
// arrived yet: its link is younger than the delay. A manifest PUT checks its references inside
// the transaction that stores it, so it either sees a link and keeps it alive, or fails with
// MANIFEST_BLOB_UNKNOWN.
import { randomUUID } from 'node:crypto';
import type { BlobStore, StoredBlob } from '../storage/blob-store.js';
import type { LinkRow, SqlGcStore } from '../metadata/sql-gc-store.js';
import { parseDigest } from './digest.js';

const PAGE = 500;
/** How long a claim on a blob being deleted holds; a collector that dies is taken over after it. */
export const DELETION_LEASE_MS = 10 * 60_000;
/** Rounds of manifest deletion per run (an index deleted frees its children for the next round). */
const MANIFEST_ROUNDS = 8;
/** The gc_scans row of the listing that finds unrecorded bytes. */
const UNRECORDED_SCAN = 'unrecorded';

export interface GcOptions {
  /** Links and manifests younger than this are kept. */
  reviewDelayMs: number;
  deleteUntaggedManifests: boolean;
  dryRun?: boolean;
  /** Purge upload sessions untouched this long (skipped when undefined or on dry runs). */
  purgeUploads?: (ttlMs: number) => Promise<number>;
  uploadTtlMs?: number;
  /**
   * List the blob store for unrecorded bytes only when the last listing (by any collector
   * sharing the metadata database) started this long ago or more; 0 or undefined: every run.
   */
  unrecordedScanIntervalMs?: number;
  /** Called for each manifest deleted (e.g. to drop it from a shared cache). */
  onManifestDeleted?: (repository: string, digest: string) => Promise<void>;
  /** Called as work advances: phase, items done, items known so far. */
  onProgress?: (phase: GcPhase, done: number) => void;
}

export type GcPhase = 'manifests' | 'links' | 'blobs' | 'uploads';

export interface GcReport {
  dryRun: boolean;
  reviewDelayMs: number;
  manifestsDeleted: number;
  manifestBytesFreed: number;
  linksRemoved: number;
  blobsDeleted: number;
  bytesFreed: number;
  uploadsPurged: number;
  /** Of those, stored bytes no blob record named (left by a crash between storing and recording). */
  unrecordedDeleted: number;
  /** Whether this run listed the blob store to find those (else the last listing is recent enough). */
  storeListed: boolean;
  /** Blobs whose bytes could not be deleted (left for the next run). */
  errors: number;
  durationMs: number;
}

export class GarbageCollector {
  constructor(
    private readonly store: SqlGcStore,
    private readonly blobs: BlobStore,
  ) {}

  async run(options: GcOptions): Promise<GcReport> {
    const started = Date.now();
    const cutoff = started - options.reviewDelayMs;
    const progress = options.onProgress ?? (() => undefined);
    const report: GcReport = {
      dryRun: options.dryRun === true,
      reviewDelayMs: options.reviewDelayMs,
      manifestsDeleted: 0,
      manifestBytesFreed: 0,
      linksRemoved: 0,
      blobsDeleted: 0,
      bytesFreed: 0,
      unrecordedDeleted: 0,
      storeListed: false,
      uploadsPurged: 0,
      errors: 0,
      durationMs: 0,
    };

    if (options.deleteUntaggedManifests) {
      for (let round = 0; round < MANIFEST_ROUNDS; round++) {
        let deletedThisRound = 0;
        let after: LinkRow | undefined;
        for (;;) {
          const page = await this.store.untaggedManifests(cutoff, PAGE, after);
          for (const m of page) {
            if (options.dryRun || (await this.store.deleteManifestIfCollectable(m, cutoff))) {
              if (!options.dryRun) await options.onManifestDeleted?.(m.repository, m.digest);
              report.manifestsDeleted++;
              report.manifestBytesFreed += m.size;
              deletedThisRound++;
              progress('manifests', report.manifestsDeleted);
            }
          }
          if (page.length < PAGE) break;
          after = page[page.length - 1];
          await yieldToEventLoop();
        }
        // A dry run deletes nothing, so a second round would find the same manifests.
        if (deletedThisRound === 0 || options.dryRun) break;
      }
    }

    let after: LinkRow | undefined;
    for (;;) {
      const page = await this.store.collectableLinks(cutoff, PAGE, after);
      for (const link of page) {
        if (options.dryRun || (await this.store.unlinkIfCollectable(link, cutoff))) {
          report.linksRemoved++;
          progress('links', report.linksRemoved);
        }
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1];
      await yieldToEventLoop();
    }

    const token = randomUUID();
    let afterDigest: string | undefined;
    for (;;) {
      const page = options.dryRun ? await this.store.collectableBlobs(cutoff, Date.now(), PAGE, afterDigest) : await this.store.unlinkedBlobs(Date.now(), PAGE, afterDigest);
      for (const blob of page) {
        if (options.dryRun) {
          report.blobsDeleted++;
          report.bytesFreed += blob.size;
        } else {
          const size = await this.deleteBlob(blob.digest, token);
          if (size === 'error') report.errors++;
          else if (size !== undefined) {
            report.blobsDeleted++;
            report.bytesFreed += size;
          }
        }
        progress('blobs', report.blobsDeleted);
      }
      if (page.length < PAGE) break;
      afterDigest = page[page.length - 1]!.digest;
      await yieldToEventLoop();
    }

    if (await this.startStoreListing(started, options)) {
      report.storeListed = true;
      try {
        await this.collectUnrecorded(cutoff, report, progress);
      } catch (err) {
        if (!options.dryRun) await this.store.releaseScan(UNRECORDED_SCAN, started).catch(() => undefined);
        throw err;
      }
    }

    if (!options.dryRun && options.purgeUploads && options.uploadTtlMs !== undefined) {
      report.uploadsPurged = await options.purgeUploads(options.uploadTtlMs);
      progress('uploads', report.uploadsPurged);
    }
    report.durationMs = Date.now() - started;
    return report;
  }

  /** Whether this run lists the blob store; a real run claims the listing (see claimScan). */
  private async startStoreListing(now: number, options: GcOptions): Promise<boolean> {
    const interval = options.unrecordedScanIntervalMs ?? 0;
    if (options.dryRun) {
      const last = interval > 0 ? await this.store.scanStartedAt(UNRECORDED_SCAN) : undefined;
      return last === undefined || last <= now - interval;
    }
    // Every run lists: still recorded, so that scheduled runs count an on-demand listing.
    return this.store.claimScan(UNRECORDED_SCAN, now, interval > 0 ? now - interval : Number.MAX_SAFE_INTEGER);
  }

  /**
   * Stored bytes older than `cutoff` that no blob record names. A push stores the bytes before
   * it records them (under its upload's fresh modification time), so these are left by a crash
   * in between, or put there by hand.
   */
  private async collectUnrecorded(cutoff: number, report: GcReport, progress: (phase: GcPhase, done: number) => void): Promise<void> {
    let batch: StoredBlob[] = [];
    const collect = async () => {
      const recorded = await this.store.recordedBlobs(batch.map((b) => b.digest));
      for (const blob of batch) {
        if (recorded.has(blob.digest) || blob.modifiedAt.getTime() >= cutoff) continue;
        if (report.dryRun) {
          report.unrecordedDeleted++;
          report.blobsDeleted++;
          report.bytesFreed += blob.size;
          continue;
        }
        const token = randomUUID();
        if (!(await this.store.claimUnrecorded(blob.digest, blob.size, token, DELETION_LEASE_MS))) continue; // recorded meanwhile
        const size = await this.deleteClaimed(blob.digest, token, blob.size);
        if (size === 'error') report.errors++;
        else if (size !== undefined) {
          report.unrecordedDeleted++;
          report.blobsDeleted++;
          report.bytesFreed += size;
        }
        progress('blobs', report.blobsDeleted);
      }
      batch = [];
      await yieldToEventLoop();
    };
    for await (const blob of this.blobs.listBlobs()) {
      batch.push(blob);
      if (batch.length >= PAGE) await collect();
    }
    await collect();
  }

  /** Claim, delete the bytes, forget the row. The size when this call deleted the blob. */
  private async deleteBlob(digestValue: string, token: string): Promise<number | undefined | 'error'> {
    const size = await this.store.claimForDeletion(digestValue, token, DELETION_LEASE_MS);
    if (size === undefined) return undefined; // linked again, or another collector has it
    return this.deleteClaimed(digestValue, token, size);
  }

  /** Delete the bytes of a blob this collector claimed, then its row. */
  private async deleteClaimed(digestValue: string, token: string, size: number): Promise<number | undefined | 'error'> {
    try {
      // A claim whose lease ran out may have been taken over by a push: never delete then.
      if (!(await this.store.claimHolds(digestValue, token))) return undefined;
      await this.blobs.delete(parseDigest(digestValue));
    } catch {
      await this.store.releaseClaim(digestValue, token).catch(() => undefined);
      return 'error';
    }
    return (await this.store.finishDeletion(digestValue, token)) ? size : undefined;
  }
}

/** SQLite answers synchronously: let requests in between pages of a long collection. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((res) => setImmediate(res));
}
