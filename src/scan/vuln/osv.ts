// OSV advisories (https://ossf.github.io/osv-schema/): the fields the database and the matcher
// read, validated when an advisory is imported; everything else is kept as it came.
import { z } from 'zod';

const severitySchema = z.array(z.object({ type: z.string(), score: z.string() }));

const eventSchema = z.object({
  introduced: z.string().optional(),
  fixed: z.string().optional(),
  last_affected: z.string().optional(),
  limit: z.string().optional(),
});

const rangeSchema = z.object({
  type: z.string(),
  repo: z.string().optional(),
  events: z.array(eventSchema),
});

const affectedSchema = z.object({
  package: z.object({ ecosystem: z.string().min(1), name: z.string().min(1), purl: z.string().optional() }).optional(),
  severity: severitySchema.optional(),
  ranges: z.array(rangeSchema).optional(),
  versions: z.array(z.string()).optional(),
  ecosystem_specific: z.record(z.string(), z.unknown()).optional(),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});

const timestamp = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not an RFC 3339 time');

export const advisorySchema = z.object({
  id: z.string().min(1).max(255),
  modified: timestamp,
  published: timestamp.optional(),
  withdrawn: timestamp.optional(),
  aliases: z.array(z.string()).optional(),
  upstream: z.array(z.string()).optional(),
  summary: z.string().optional(),
  details: z.string().optional(),
  severity: severitySchema.optional(),
  affected: z.array(affectedSchema).optional(),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});

export type OsvAdvisory = z.infer<typeof advisorySchema>;
export type OsvAffected = z.infer<typeof affectedSchema>;
export type OsvRange = z.infer<typeof rangeSchema>;
export type OsvEvent = z.infer<typeof eventSchema>;
export type OsvSeverity = z.infer<typeof severitySchema>[number];

/**
 * Parse and check an advisory; throws with the first problem found. `content` is the whole
 * document (fields this module does not read included), as compact JSON.
 */
export function parseAdvisory(text: string): { advisory: OsvAdvisory; content: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON: ${(err as Error).message}`);
  }
  const result = advisorySchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`not an OSV advisory: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return { advisory: result.data, content: JSON.stringify(json) };
}

/** An advisory the database stored (checked when it was imported). */
export function storedAdvisory(content: string): OsvAdvisory {
  return JSON.parse(content) as OsvAdvisory;
}

/** The ecosystem's name without its release or other suffix: "Debian:12" -> "Debian". */
export function ecosystemFamily(ecosystem: string): string {
  return ecosystem.split(':', 1)[0]!;
}

/** PEP 503: lower case, runs of -, _ and . become one -. */
export function normalizePypiName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** The name packages are looked up by: PyPI names normalised, others as they are. */
export function lookupName(family: string, name: string): string {
  return family === 'PyPI' ? normalizePypiName(name) : name;
}
