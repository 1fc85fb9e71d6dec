// Image scanning: a background worker pool over the persistent job queue (ScanStore). A job
// streams the image's layers from the blob store through the inventory extractors, matches
// the packages against the vulnerability database, stores inventory and findings, and pushes
// a CycloneDX SBOM as a referrer of the image. When the database changes, stored inventories
// are matched again without reading layers. Pushes enqueue their images; an index enqueues
// its platform manifests.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { BlobStore } from '../storage/blob-store.js';
import type { MetadataStore } from '../metadata/store.js';
import type { ScanReason, ScanResultRecord, ScanStore, ScanSummary, Severity, SeverityCounts } from '../metadata/scan-store.js';
import type { VulnStore } from '../metadata/vuln-store.js';
import { parseDigest } from '../registry/digest.js';
import { inventoryImage, LayerFormatError } from './inventory/index.js';
import { matchInventory, type Finding } from './vuln/match.js';
import { exportSbom, SBOM_MEDIA_TYPES } from './sbom.js';
import type { Inventory } from './model.js';
import { imageContent } from '../registry/image-content.js';

/** Attempts before a job is given up (failed result recorded). */
const MAX_ATTEMPTS = 3;
/** Stale results matched again per batch after a database change. */
const REMATCH_PAGE = 200;
/** Annotation our generated SBOM artifacts carry (so a rescan does not push another). */
export const GENERATED_BY = 'dev.oci-registry.sbom.generator';

export interface ScanFinished {
  repository: string;
  digest: string;
  status: ScanResultRecord['status'];
  summary: ScanSummary;
}

export interface ArtifactPush {
  repository: string;
  subject: { mediaType: string; digest: string; size: number };
  artifactType: string;
  bytes: Buffer;
  annotations: Record<string, string>;
}

export interface ScanServiceOptions {
  /** Background workers on this node (0: none; jobs wait for a node that has some). */
  workers: number;
  leaseMs: number;
  /** How often an idle worker looks for jobs queued by other nodes. */
  pollMs: number;
  /** How often to check whether the vulnerability database changed. */
  rematchCheckMs: number;
  logger: Logger;
  /** Push an SBOM as a referrer of the image; absent: no SBOM artifacts. */
  pushArtifact?: (artifact: ArtifactPush) => Promise<void>;
  onFinished?: (event: ScanFinished) => void;
  /** A layer that unpacks to more than this is not scanned (the result says so); default: no limit. */
  maxLayerBytes?: number;
  /**
   * Make sure a layer is in the blob store before it is read: the pull-through cache stores a
   * proxied image's layers only when they are pulled, so a scan fetches the missing ones.
   */
  fetchLayer?: (repository: string, digest: string) => Promise<void>;
}

const SEVERITIES: Severity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'];

export function summarize(inventory: Inventory | undefined, findings: Finding[]): ScanSummary {
  const vulnerabilities = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as SeverityCounts;
  for (const f of findings) vulnerabilities[f.severity]++;
  const os = inventory?.os ? (inventory.os.prettyName ?? [inventory.os.id, inventory.os.versionId].filter(Boolean).join(' ')) : null;
  return { packages: inventory?.packages.length ?? 0, os, vulnerabilities };
}

export class ScanService {
  private readonly workerId = randomUUID();
  private running = false;
  private workers: Promise<void>[] = [];
  private wake: (() => void) | undefined;
  private rematchTimer: NodeJS.Timeout | undefined;
  private rematching: Promise<unknown> | undefined;
  private seenVersion = -1;

  constructor(
    readonly store: ScanStore,
    private readonly vulns: VulnStore,
    private readonly blobs: BlobStore,
    private readonly metadata: MetadataStore,
    private readonly options: ScanServiceOptions,
  ) {}

  /**
   * Queue scans for what the manifest is: an image queues itself, an index its platform
   * manifests, anything else (signatures, SBOMs, other artifacts) nothing. The digests queued.
   */
  async enqueue(repository: string, digest: string, reason: ScanReason): Promise<string[]> {
    const record = await this.metadata.getManifest(repository, digest);
    if (!record) return [];
    const content = imageContent(record.content);
    const digests = content.kind === 'image' ? [digest] : content.kind === 'index' ? content.children : [];
    const queued: string[] = [];
    for (const d of digests) {
      if (content.kind === 'index' && !(await this.metadata.getManifest(repository, d))) continue;
      if (reason !== 'push' || !(await this.store.getResult(d))) {
        await this.store.enqueue(d, repository, reason);
        queued.push(d);
      }
    }
    if (queued.length) this.wake?.();
    return queued;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (let i = 0; i < this.options.workers; i++) this.workers.push(this.workerLoop());
    if (this.options.workers > 0) {
      this.rematchTimer = setInterval(() => {
        this.rematching ??= this.rematchIfChanged()
          .catch((err: unknown) => this.options.logger.warn({ err }, 'matching scans against the new vulnerability database failed'))
          .finally(() => (this.rematching = undefined));
      }, this.options.rematchCheckMs);
      this.rematchTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.rematchTimer) clearInterval(this.rematchTimer);
    this.wake?.();
    await Promise.all(this.workers);
    await this.rematching;
    this.workers = [];
  }

  private async workerLoop(): Promise<void> {
    while (this.running) {
      let worked = false;
      try {
        worked = await this.runOne();
      } catch (err) {
        this.options.logger.warn({ err }, 'scan worker error');
      }
      if (worked || !this.running) continue;
      await new Promise<void>((res) => {
        const timer = setTimeout(res, this.options.pollMs);
        this.wake = () => {
          clearTimeout(timer);
          res();
        };
      });
      this.wake = undefined;
    }
  }

  /** Claim one due job and scan it; false when none was due. */
  async runOne(): Promise<boolean> {
    const job = await this.store.claim(this.workerId, this.options.leaseMs);
    if (!job) return false;
    const renew = setInterval(() => void this.store.renew(job.digest, this.workerId, this.options.leaseMs).catch(() => undefined), this.options.leaseMs / 3);
    try {
      const result = await this.scan(job.repository, job.digest);
      if (await this.store.complete(job.digest, this.workerId, result)) {
        this.options.onFinished?.({ repository: job.repository, digest: job.digest, status: result.status, summary: result.summary });
        if (result.status === 'done') await this.pushSbom(job.repository, job.digest, result).catch((err: unknown) => this.options.logger.warn({ err, digest: job.digest }, 'could not push the SBOM'));
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (job.attempts + 1 >= MAX_ATTEMPTS) {
        const failed = this.failedResult(job.repository, job.digest, message);
        if (await this.store.complete(job.digest, this.workerId, failed)) this.options.onFinished?.({ repository: job.repository, digest: job.digest, status: 'failed', summary: failed.summary });
      } else {
        await this.store.retry(job.digest, this.workerId, message, Date.now() + 5_000 * 2 ** job.attempts);
      }
      this.options.logger.warn({ err, digest: job.digest, attempt: job.attempts + 1 }, 'scan failed');
    } finally {
      clearInterval(renew);
    }
    return true;
  }

  private failedResult(repository: string, digest: string, error: string): ScanResultRecord {
    return { digest, repository, status: 'failed', scannedAt: new Date(), vulndbVersion: 0, inventory: null, findings: null, summary: summarize(undefined, []), error };
  }

  /** Scan an image manifest now (no queue). Throws on I/O errors (the caller retries). */
  async scan(repository: string, digest: string): Promise<ScanResultRecord> {
    const record = await this.metadata.getManifest(repository, digest);
    const base = { digest, repository, scannedAt: new Date() };
    const unsupported = (error: string): ScanResultRecord => ({ ...base, status: 'unsupported', vulndbVersion: 0, inventory: null, findings: null, summary: summarize(undefined, []), error });
    if (!record) return unsupported('the manifest is no longer in the repository');
    const content = imageContent(record.content);
    if (content.kind !== 'image') return unsupported('not an image manifest');
    if (this.options.fetchLayer) for (const l of content.layers) await this.options.fetchLayer(repository, l.digest);
    const layers = content.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, open: () => this.blobs.read(parseDigest(l.digest)) }));
    let inventory: Inventory;
    try {
      inventory = await inventoryImage(layers, this.options.maxLayerBytes !== undefined ? { maxLayerBytes: this.options.maxLayerBytes } : {});
    } catch (err) {
      if (err instanceof LayerFormatError) return unsupported(err.message);
      throw err;
    }
    const { version } = await this.vulns.state();
    const findings = await matchInventory(inventory, this.vulns);
    return { ...base, status: 'done', vulndbVersion: version, inventory: JSON.stringify(inventory), findings: JSON.stringify(findings), summary: summarize(inventory, findings), error: null };
  }

  /** Match stored inventories against the database again when its version moved on. */
  async rematchIfChanged(): Promise<number> {
    const { version } = await this.vulns.state();
    if (version === this.seenVersion) return 0;
    let updated = 0;
    let after: string | undefined;
    for (;;) {
      const page = await this.store.staleResults(version, REMATCH_PAGE, after);
      for (const r of page) {
        if (!r.inventory) continue;
        const inventory = JSON.parse(r.inventory) as Inventory;
        const findings = await matchInventory(inventory, this.vulns);
        await this.store.updateFindings(r.digest, version, JSON.stringify(findings), summarize(inventory, findings));
        this.options.onFinished?.({ repository: r.repository, digest: r.digest, status: 'done', summary: summarize(inventory, findings) });
        updated++;
      }
      if (page.length < REMATCH_PAGE) break;
      after = page[page.length - 1]!.digest;
    }
    this.seenVersion = version;
    if (updated) this.options.logger.info({ version, updated }, 'scans matched against the new vulnerability database');
    return updated;
  }

  /** A manifest by tag or digest. */
  async manifest(repository: string, reference: string) {
    return reference.includes(':') ? this.metadata.getManifest(repository, reference) : this.metadata.getManifestByTag(repository, reference);
  }

  vulnState() {
    return this.vulns.state();
  }

  /** The findings of a scanned image; undefined when it has not been scanned. */
  async findingsOf(digest: string): Promise<Finding[] | undefined> {
    const result = await this.store.getResult(digest);
    if (!result || result.findings === null) return undefined;
    return JSON.parse(result.findings) as Finding[];
  }

  private async pushSbom(repository: string, digest: string, result: ScanResultRecord): Promise<void> {
    if (!this.options.pushArtifact || !result.inventory) return;
    const existing = await this.metadata.listReferrers(repository, digest, SBOM_MEDIA_TYPES.cyclonedx);
    if (existing.some((r) => r.annotations?.[GENERATED_BY] !== undefined)) return;
    const record = await this.metadata.getManifest(repository, digest);
    if (!record) return;
    const inventory = JSON.parse(result.inventory) as Inventory;
    const sbom = exportSbom('cyclonedx', inventory, { repository, digest }, { created: result.scannedAt });
    await this.options.pushArtifact({
      repository,
      subject: { mediaType: record.mediaType, digest, size: record.content.length },
      artifactType: sbom.mediaType,
      bytes: sbom.bytes,
      annotations: { [GENERATED_BY]: 'scanner', 'org.opencontainers.image.created': result.scannedAt.toISOString() },
    });
  }
}
