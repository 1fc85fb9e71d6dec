// Image scans: a persistent queue of scan jobs (one per manifest digest; claimed with a lease,
// so a job survives restarts and a node that dies mid-scan hands it over) and the latest
// result per digest. Beside MetadataStore, on the same database.

export type ScanReason = 'push' | 'manual' | 'rescan';

export interface ScanJob {
  digest: string;
  /** A repository that holds the manifest (where its blobs are read from). */
  repository: string;
  reason: ScanReason;
  enqueuedAt: Date;
  attempts: number;
  /** Set while a worker holds the job. */
  worker: string | null;
  lastError: string | null;
}

export type Severity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'UNKNOWN';
export type SeverityCounts = Record<Severity, number>;

export interface ScanSummary {
  packages: number;
  os: string | null;
  /** Findings per severity. */
  vulnerabilities: SeverityCounts;
}

export interface ScanResultRecord {
  digest: string;
  repository: string;
  /** done: inventory and findings; unsupported: not an image we can read (e.g. zstd layers); failed: gave up. */
  status: 'done' | 'unsupported' | 'failed';
  scannedAt: Date;
  /** The vulnerability database version the findings were matched against. */
  vulndbVersion: number;
  /** JSON of the Inventory (kept so a database change re-matches without reading layers). */
  inventory: string | null;
  /** JSON of the findings. */
  findings: string | null;
  summary: ScanSummary;
  error: string | null;
}

export interface ScanQueueStats {
  queued: number;
  running: number;
  /** Jobs that failed at least once and wait to be retried. */
  retrying: number;
  oldestEnqueuedAt: Date | null;
}

export interface ScanStore {
  /** Queue a scan of the digest (nothing changes when it is queued or running already). */
  enqueue(digest: string, repository: string, reason: ScanReason): Promise<boolean>;
  /** Take the next due job: queued, or held by a worker whose lease ran out. */
  claim(worker: string, leaseMs: number): Promise<ScanJob | undefined>;
  /** Keep holding a job during a long scan; false when the job was lost. */
  renew(digest: string, worker: string, leaseMs: number): Promise<boolean>;
  /** Store the result and drop the job, in one transaction (only while `worker` holds it). */
  complete(digest: string, worker: string, result: ScanResultRecord): Promise<boolean>;
  /** Give the job back to be retried at `retryAt`. */
  retry(digest: string, worker: string, error: string, retryAt: number): Promise<void>;
  getResult(digest: string): Promise<ScanResultRecord | undefined>;
  getJob(digest: string): Promise<ScanJob | undefined>;
  queueStats(): Promise<ScanQueueStats>;
  /** Done results matched against an older database version (keyset paged by digest). */
  staleResults(version: number, limit: number, after?: string): Promise<ScanResultRecord[]>;
  /** Replace a result's findings after matching again (only when still on an older version). */
  updateFindings(digest: string, version: number, findings: string, summary: ScanSummary): Promise<void>;
}
