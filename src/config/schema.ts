// The one configuration schema. A YAML file, REGISTRY_* environment variables and command
// line flags all feed it (in that order of precedence, flags last); it is validated at start.
import { z } from 'zod';

const MiB = 1024 * 1024;

export const ConfigSchema = z
  .object({
    http: z
      .object({
        host: z.string().min(1).default('0.0.0.0'),
        port: z.coerce.number().int().min(0).max(65535).default(5000),
        /** Longest a request may take to send its headers (slow-client guard). */
        headersTimeoutMs: z.coerce.number().int().positive().default(30_000),
        /** Idle time after which a keep-alive connection is closed. */
        keepAliveTimeoutMs: z.coerce.number().int().positive().default(65_000),
        /** How long a graceful shutdown waits for running requests (uploads) to finish. */
        shutdownGraceMs: z.coerce.number().int().nonnegative().default(30_000),
      })
      .prefault({}),
    storage: z
      .object({
        driver: z.enum(['filesystem']).default('filesystem'),
        filesystem: z.object({ root: z.string().min(1).default('./data') }).prefault({}),
      })
      .prefault({}),
    metadata: z
      .object({
        driver: z.enum(['sqlite']).default('sqlite'),
        /** SQLite file; defaults to registry.db inside the filesystem storage root. */
        sqlite: z.object({ path: z.string().optional() }).prefault({}),
      })
      .prefault({}),
    uploads: z
      .object({
        /** Upload sessions untouched this long are dropped. */
        sessionTtlMs: z.coerce.number().int().positive().default(24 * 3600_000),
        purgeIntervalMs: z.coerce.number().int().positive().default(15 * 60_000),
      })
      .prefault({}),
    limits: z
      .object({
        manifestMaxBytes: z.coerce.number().int().positive().default(4 * MiB),
      })
      .prefault({}),
    deletes: z.object({ enabled: z.stringbool().or(z.boolean()).default(true) }).prefault({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;
