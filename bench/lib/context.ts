// What every workload gets: the settings of this run, the shared registry under test, a way
// to start a fresh one, and a helper that measures the registry process around a piece of work.
import type { Client } from './http.js';
import { cpuSeconds, procStatus, resetPeakRss, type RegistryProcess } from './proc.js';
import { MiB, GiB, KiB } from './data.js';
import type { BigRepo } from './scale-seed.js';

export interface Row {
  workload: string;
  value: number | null;
  unit: string;
  notes: string;
  /** Set when the figure misses its target. */
  flagged?: boolean;
  /** Set when part of a workload failed (it counts as a failure: exit status 1). */
  failed?: boolean;
}

export interface Settings {
  mode: 'quick' | 'full';
  blobGetSize: number;
  blobGetSeconds: number;
  blobGetMaxDownloads: number;
  manifestSeconds: number;
  manifestWarmupSeconds: number;
  manifestConnections: number[];
  uploadSize: number;
  uploadRuns: number;
  chunkSize: number;
  pushConcurrency: number;
  pushRounds: number;
  pushLayerSize: number;
  rssBlobSize: number;
  rssTargetBytes: number;
  skopeoLayerSizes: number[];
  skopeoRuns: number;
  /** Scale workload: repositories with `scaleTagsPerRepo` tags each... */
  scaleRepos: number;
  scaleTagsPerRepo: number;
  /** ...plus one repository per entry with that many tags (see BigRepo in lib/scale-seed.ts). */
  scaleBigRepos: BigRepo[];
  /** Timed requests per listing (one connection, one after the other). */
  scaleListRequests: number;
  /** Rounds of manifest GET runs (empty registry, then the seeded one's variants), alternating. */
  scaleManifestRounds: number;
  scaleBackends: ('sqlite' | 'postgres')[];
}

export function settingsFor(quick: boolean, scaleBackends: Settings['scaleBackends'] = ['sqlite', 'postgres']): Settings {
  const common = {
    scaleTagsPerRepo: 10,
    scaleBackends,
    manifestConnections: [1, 16, 64],
    chunkSize: 16 * MiB,
    pushConcurrency: 16,
    pushLayerSize: 32 * KiB,
    rssTargetBytes: 150e6,
    skopeoLayerSizes: [4 * MiB, 2 * MiB, 1 * MiB],
    blobGetMaxDownloads: 400,
  };
  return quick
    ? {
        ...common,
        mode: 'quick',
        blobGetSize: 64 * MiB,
        blobGetSeconds: 3,
        manifestSeconds: 2,
        manifestWarmupSeconds: 1,
        uploadSize: 64 * MiB,
        uploadRuns: 2,
        pushRounds: 2,
        rssBlobSize: 256 * MiB,
        skopeoRuns: 1,
        scaleRepos: 10_000,
        scaleBigRepos: [{ tags: 10_000, distinctManifests: true, preTracking: true }],
        scaleListRequests: 200,
        scaleManifestRounds: 1,
      }
    : {
        ...common,
        mode: 'full',
        blobGetSize: 256 * MiB,
        blobGetSeconds: 8,
        manifestSeconds: 5,
        manifestWarmupSeconds: 2,
        uploadSize: 256 * MiB,
        uploadRuns: 3,
        pushRounds: 5,
        rssBlobSize: GiB,
        skopeoRuns: 3,
        scaleRepos: 100_000,
        scaleBigRepos: [
          { tags: 100_000, distinctManifests: true, preTracking: true },
          { tags: 20_000, distinctManifests: false },
        ],
        scaleListRequests: 500,
        scaleManifestRounds: 3,
      };
}

/** What a workload runs against: the registry under test, or Distribution with `--vs`. */
export type TargetKind = 'registry' | 'distribution';

export interface BenchContext {
  settings: Settings;
  target: TargetKind;
  /** 0-based round of an interleaved run; workloads salt their contents with it, so a round never finds the blobs of an earlier one. */
  round: number;
  /** Data dir of the registry under test (the limits workload serves its blob file with nginx). */
  registryDataDir: string;
  /** Scratch directory of this run (removed at the end). */
  tmp: string;
  registry: RegistryProcess;
  client: Client;
  /**
   * Start a registry of its own (of the same kind as `target`), stopped and its data dir removed by `release`. The data dir
   * is a fresh one unless `dataDir` names one the caller prepared (e.g. seeded); `env` adds
   * REGISTRY_* settings (e.g. a PostgreSQL metadata store).
   */
  freshRegistry(name: string, options?: { env?: Record<string, string>; dataDir?: string }): Promise<{ registry: RegistryProcess; release(): Promise<void> }>;
  log(message: string): void;
  /** --keep: leave data behind for a look (scratch dir, throwaway databases). */
  keep: boolean;
  /** --postgres-url: a PostgreSQL server to create throwaway databases on (else one is started). */
  postgresUrl: string | undefined;
}

export interface Measured<T> {
  result: T;
  seconds: number;
  /** Registry CPU time over wall time, in % of one core. */
  serverCpuPercent: number;
  /** Peak RSS of the registry during the work (undefined when it cannot be reset first). */
  serverPeakRss: number | undefined;
  /** CPU of this benchmark process (the client, when it is a Node client) in % of one core. */
  clientCpuPercent: number;
}

/** Run `work` and report wall time, registry CPU and the registry's peak RSS during it. */
export async function measure<T>(registry: RegistryProcess, work: () => Promise<T>): Promise<Measured<T>> {
  const canReset = resetPeakRss(registry.pid);
  const cpuBefore = await cpuSeconds(registry.pid);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const result = await work();
  const seconds = (performance.now() - started) / 1000;
  const client = process.cpuUsage(clientBefore);
  const cpuAfter = await cpuSeconds(registry.pid);
  const status = await procStatus(registry.pid);
  return {
    result,
    seconds,
    serverCpuPercent: ((cpuAfter - cpuBefore) / seconds) * 100,
    serverPeakRss: canReset ? status.hwm : undefined,
    clientCpuPercent: ((client.user + client.system) / 1e6 / seconds) * 100,
  };
}

/** Registry CPU and peak RSS; with `client`, also this process's CPU (for Node-driven load). */
export function serverNotes(m: Measured<unknown>, options: { client?: boolean } = {}): string {
  const parts = [`server CPU ${m.serverCpuPercent.toFixed(0)}%`];
  if (m.serverPeakRss !== undefined) parts.push(`peak RSS ${mb(m.serverPeakRss)} MB`);
  if (options.client) parts.push(`client CPU ${m.clientCpuPercent.toFixed(0)}%`);
  return parts.join(', ');
}

/** Decimal megabytes, as in MB/s. */
export function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(0);
}

export function mibLabel(bytes: number): string {
  return bytes >= GiB ? `${bytes / GiB} GiB` : bytes >= MiB ? `${bytes / MiB} MiB` : `${bytes / KiB} KiB`;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function fmt(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  return abs >= 100 ? value.toFixed(0) : abs >= 10 ? value.toFixed(1) : value.toFixed(2);
}
