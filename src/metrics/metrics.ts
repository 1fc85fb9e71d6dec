// Every Prometheus metric of one registry process, in one prom-client Registry (not the
// library's global one: several registries may run in one process, as the tests do).
// Subsystems add theirs through counter(), gauge() and histogram(); the HTTP layer records
// requests in http; gauges of stored state are computed when scraped.
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
} from 'prom-client';
import type { GcReport } from '../registry/gc.js';
import { HttpStats } from './http-stats.js';

/** Every metric name starts with this (process and Node.js metrics keep prom-client's names). */
export const PREFIX = 'registry_';

/** Latency buckets in seconds: manifest and tag reads take milliseconds, layer transfers minutes. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

// Process metrics belong to the process, not to one registry instance: collected once (their
// GC observer and event-loop monitor are never stopped), exposed by every instance.
let processRegistry: Registry | undefined;

function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** What the scrape-time gauges read from the metadata store. */
export interface StoredState {
  /** Upload sessions the store knows (every node's). */
  uploadSessions(): Promise<number>;
  /** Bytes of the distinct blobs linked into each namespace. */
  usedBytesByNamespace(): Promise<Map<string, number>>;
}

export class Metrics {
  readonly registry = new Registry();

  /** Requests by route pattern, method and status: counts, latency, bytes (see HttpStats). */
  readonly http = new HttpStats(LATENCY_BUCKETS);

  readonly rateLimited = this.counter({ name: 'rate_limited_total', help: 'Requests refused with 429, by the limit they hit', labelNames: ['limit'] });

  private readonly gc = {
    runs: this.counter({ name: 'gc_runs_total', help: 'Garbage collections run by this process (dry runs excluded)' }),
    blobsDeleted: this.counter({ name: 'gc_blobs_deleted_total', help: 'Blobs garbage collection deleted' }),
    bytesFreed: this.counter({ name: 'gc_bytes_freed_total', help: 'Bytes of blobs garbage collection deleted' }),
    manifestsDeleted: this.counter({ name: 'gc_manifests_deleted_total', help: 'Manifests garbage collection deleted' }),
    errors: this.counter({ name: 'gc_errors_total', help: 'Blobs garbage collection could not delete (left for the next run)' }),
    storeListings: this.counter({ name: 'gc_store_listings_total', help: 'Garbage collections that listed every stored blob, looking for bytes no blob record names' }),
    duration: this.histogram({ name: 'gc_duration_seconds', help: 'Duration of garbage collections', buckets: [0.1, 1, 10, 60, 300, 1800, 3600] }),
  };

  /**
   * `storageRefreshMs`: namespace usage (a scan of every blob link) is recomputed on a scrape at
   * most this often. A failing store keeps a scrape answering, with the last values.
   */
  constructor(state: StoredState, options: { storageRefreshMs: number; onError: (err: unknown, what: string) => void }) {
    this.http.register(this.registry, PREFIX);
    this.gauge({
      name: 'upload_sessions',
      help: 'Upload sessions open (started, neither completed, cancelled nor purged), on every node',
      async collect() {
        await state.uploadSessions().then(
          (n) => this.set(n),
          (err: unknown) => options.onError(err, 'upload sessions metric'),
        );
      },
    });
    let computedAt = -Infinity;
    this.gauge({
      name: 'namespace_storage_bytes',
      help: 'Bytes of the distinct blobs linked into the repositories of each namespace',
      labelNames: ['namespace'],
      async collect() {
        if (Date.now() - computedAt < options.storageRefreshMs) return;
        try {
          const used = await state.usedBytesByNamespace();
          computedAt = Date.now();
          // Namespaces emptied since the last computation disappear instead of keeping their old value.
          this.reset();
          for (const [namespace, bytes] of used) this.set({ namespace }, bytes);
        } catch (err) {
          options.onError(err, 'namespace storage metric');
        }
      },
    });
  }

  /** A counter named registry_<name>; asking again for the same name returns the same counter. */
  counter<L extends string>(config: CounterConfiguration<L>): Counter<L> {
    return this.existing<Counter<L>>(config.name) ?? new Counter({ ...config, name: PREFIX + config.name, registers: [this.registry] });
  }

  gauge<L extends string>(config: GaugeConfiguration<L>): Gauge<L> {
    return this.existing<Gauge<L>>(config.name) ?? new Gauge({ ...config, name: PREFIX + config.name, registers: [this.registry] });
  }

  histogram<L extends string>(config: HistogramConfiguration<L>): Histogram<L> {
    return this.existing<Histogram<L>>(config.name) ?? new Histogram({ ...config, name: PREFIX + config.name, registers: [this.registry] });
  }

  private existing<T>(name: string): T | undefined {
    return this.registry.getSingleMetric(PREFIX + name) as T | undefined;
  }

  recordGc(report: GcReport): void {
    if (report.dryRun) return;
    this.gc.runs.inc();
    this.gc.blobsDeleted.inc(report.blobsDeleted);
    this.gc.bytesFreed.inc(report.bytesFreed);
    this.gc.manifestsDeleted.inc(report.manifestsDeleted);
    this.gc.errors.inc(report.errors);
    if (report.storeListed) this.gc.storeListings.inc();
    this.gc.duration.observe(report.durationMs / 1000);
  }

  /** The exposition text and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    const [own, shared] = await Promise.all([this.registry.metrics(), processMetrics().metrics()]);
    return { contentType: this.registry.contentType, body: own + shared };
  }
}
