// Matches an image's inventory against the vulnerability database: every installed package
// is looked up by its OSV ecosystem and name, then each advisory's affected entries are
// evaluated as the OSV schema defines (explicit versions, then ECOSYSTEM and SEMVER ranges:
// introduced / fixed / last_affected / limit events, in the ecosystem's version order).
import type { Inventory } from '../model.js';
import type { StoredAdvisory, VulnStore } from '../../metadata/vuln-store.js';
import { semver, type VersionOrdering } from '../versions/index.js';
import { cvss3BaseScore, severityOfLabel, severityOfScore, type Severity } from './cvss.js';
import { matchTarget, type MatchTarget } from './ecosystems.js';
import { ecosystemFamily, lookupName, storedAdvisory, type OsvAdvisory, type OsvAffected, type OsvRange, type OsvSeverity } from './osv.js';

export interface Finding {
  /** The advisory's id (CVE-, GHSA-, DSA-, ALSA-, GO-, PYSEC-, ...). */
  id: string;
  /** CVE ids of the vulnerability (aliases and upstream ids). */
  aliases: string[];
  summary: string;
  severity: Severity;
  /** The CVSS v3 base score, when the advisory gives a vector. */
  score?: number;
  /** The installed package's name. */
  package: string;
  /** The OSV ecosystem the advisory names for it, e.g. "Debian:12". */
  ecosystem: string;
  installedVersion: string;
  /** The lowest version above the installed one that fixes it, if any. */
  fixedVersion?: string;
  path: string;
  purl: string;
}

const SEVERITY_RANK: Record<Severity, number> = { CRITICAL: 0, HIGH: 1, MEDIUM: 2, LOW: 3, UNKNOWN: 4 };
const SUMMARY_MAX = 200;

/** The ordering of a range: SEMVER ranges are SemVer whatever the ecosystem (Go's own order is SemVer with go1.x added). */
function rangeOrdering(range: OsvRange, t: MatchTarget): VersionOrdering | undefined {
  if (range.type === 'ECOSYSTEM') return t.ordering;
  if (range.type === 'SEMVER') return t.family === 'Go' ? t.ordering : semver;
  return undefined;
}

/** Whether the version is in the range (the OSV schema's evaluation); throws on versions the ordering rejects. */
export function inRange(version: string, range: OsvRange, ord: VersionOrdering): boolean {
  const limits = range.events.flatMap((e) => (e.limit !== undefined ? [e.limit] : []));
  if (limits.length > 0 && !limits.some((l) => l === '*' || ord.compare(version, l) < 0)) return false;
  const eventVersion = (e: OsvRange['events'][number]): string | undefined => e.introduced ?? e.fixed ?? e.last_affected;
  const events = range.events.filter((e) => e.limit === undefined && eventVersion(e) !== undefined);
  // Stable sort by version; introduced "0" sorts before everything.
  const sorted = [...events].sort((a, b) => {
    const va = eventVersion(a)!;
    const vb = eventVersion(b)!;
    const za = a.introduced === '0';
    const zb = b.introduced === '0';
    if (za || zb) return za === zb ? 0 : za ? -1 : 1;
    return ord.compare(va, vb);
  });
  let vulnerable = false;
  for (const e of sorted) {
    if (e.introduced !== undefined) {
      if (e.introduced === '0' || ord.compare(version, e.introduced) >= 0) vulnerable = true;
    } else if (e.fixed !== undefined) {
      if (ord.compare(version, e.fixed) >= 0) vulnerable = false;
    } else if (e.last_affected !== undefined && ord.compare(version, e.last_affected) > 0) {
      vulnerable = false;
    }
  }
  return vulnerable;
}

function sameVersion(a: string, b: string, ord: VersionOrdering): boolean {
  if (a === b) return true;
  try {
    return ord.compare(a, b) === 0;
  } catch {
    return false;
  }
}

/** Whether the affected entry covers the target's version, and the fixes above it. */
function evaluate(affected: OsvAffected, t: MatchTarget): { vulnerable: boolean; fixes: { version: string; ord: VersionOrdering }[] } {
  let vulnerable = (affected.versions ?? []).some((v) => sameVersion(v, t.version, t.ordering));
  const fixes: { version: string; ord: VersionOrdering }[] = [];
  for (const range of affected.ranges ?? []) {
    const ord = rangeOrdering(range, t);
    if (!ord) continue;
    try {
      if (!vulnerable && inRange(t.version, range, ord)) vulnerable = true;
    } catch {
      // A version the ordering cannot read: this range says nothing about the package.
      continue;
    }
    for (const e of range.events) {
      if (e.fixed === undefined) continue;
      try {
        if (ord.compare(e.fixed, t.version) > 0) fixes.push({ version: e.fixed, ord });
      } catch {
        // An unreadable fix version is no fix to offer.
      }
    }
  }
  return { vulnerable, fixes };
}

function lowest(fixes: { version: string; ord: VersionOrdering }[]): string | undefined {
  let best: { version: string; ord: VersionOrdering } | undefined;
  for (const f of fixes) {
    try {
      if (!best || f.ord.compare(f.version, best.version) < 0) best = f;
    } catch {
      // Incomparable with the best so far: keep the best.
    }
  }
  return best?.version;
}

/** The highest CVSS v3 base score among the entries, if any has a v3 vector. */
function cvssScore(entries: OsvSeverity[] | undefined): number | undefined {
  let best: number | undefined;
  for (const s of entries ?? []) {
    if (s.type !== 'CVSS_V3') continue;
    const score = cvss3BaseScore(s.score);
    if (score !== undefined && (best === undefined || score > best)) best = score;
  }
  return best;
}

const labelOf = (record: Record<string, unknown> | undefined, key: string): string | undefined => {
  const v = record?.[key];
  return typeof v === 'string' ? v : undefined;
};

/**
 * Severity from a CVSS v3 vector (the package's own, else the advisory's), else from the
 * database's label: GHSA database_specific.severity, Debian urgency, Ubuntu priority.
 */
function severityOf(advisory: OsvAdvisory, affected: OsvAffected[]): { severity: Severity; score?: number } {
  const scores = affected.map((a) => cvssScore(a.severity)).filter((s): s is number => s !== undefined);
  const score = scores.length > 0 ? Math.max(...scores) : cvssScore(advisory.severity);
  if (score !== undefined) return { severity: severityOfScore(score), score };
  const labels: (string | undefined)[] = [];
  for (const a of affected) {
    labels.push(labelOf(a.ecosystem_specific, 'severity'), labelOf(a.database_specific, 'severity'), labelOf(a.ecosystem_specific, 'urgency'));
    labels.push(...(a.severity ?? []).filter((s) => s.type === 'Ubuntu').map((s) => s.score));
  }
  labels.push(labelOf(advisory.database_specific, 'severity'), labelOf(advisory.database_specific, 'urgency'));
  labels.push(...(advisory.severity ?? []).filter((s) => s.type === 'Ubuntu').map((s) => s.score));
  for (const label of labels) {
    if (label === undefined) continue;
    const severity = severityOfLabel(label);
    if (severity !== 'UNKNOWN') return { severity };
  }
  return { severity: 'UNKNOWN' };
}

function summaryOf(advisory: OsvAdvisory): string {
  const text = advisory.summary?.trim() || advisory.details?.trim().split('\n', 1)[0] || '';
  return text.length > SUMMARY_MAX ? `${text.slice(0, SUMMARY_MAX - 1)}…` : text;
}

function cveIds(advisory: OsvAdvisory): string[] {
  return [...new Set([...(advisory.aliases ?? []), ...(advisory.upstream ?? [])].filter((a) => /^CVE-\d+-\d+$/.test(a)))].sort();
}

/** One finding per advisory and installed package, or none when the version is not affected. */
function matchOne(advisory: OsvAdvisory, t: MatchTarget): Finding | undefined {
  const entries = (advisory.affected ?? []).filter(
    (a) => a.package !== undefined && ecosystemFamily(a.package.ecosystem) === t.family && t.accepts(a.package.ecosystem) && t.names.includes(lookupName(t.family, a.package.name)),
  );
  const results = entries.map((a) => ({ affected: a, ...evaluate(a, t) }));
  const hits = results.filter((r) => r.vulnerable);
  if (hits.length === 0) return undefined;
  const fixed = lowest(results.flatMap((r) => r.fixes));
  return {
    id: advisory.id,
    aliases: cveIds(advisory),
    summary: summaryOf(advisory),
    ...severityOf(advisory, hits.map((h) => h.affected)),
    package: t.pkg.name,
    ecosystem: hits[0]!.affected.package!.ecosystem,
    installedVersion: t.pkg.version,
    ...(fixed !== undefined ? { fixedVersion: fixed } : {}),
    path: t.pkg.path,
    purl: t.pkg.purl,
  };
}

export function compareFindings(a: Finding, b: Finding): number {
  const order = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
  return SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || order(a.package, b.package) || order(a.id, b.id) || order(a.path, b.path);
}

/** The vulnerabilities of the inventory's packages: most severe first, then by package and id. */
export async function matchInventory(inventory: Inventory, store: Pick<VulnStore, 'findByPackages'>): Promise<Finding[]> {
  const targets = inventory.packages.map((p) => matchTarget(p, inventory.os)).filter((t): t is MatchTarget => t !== undefined);
  const namesByFamily = new Map<string, Set<string>>();
  for (const t of targets) {
    const names = namesByFamily.get(t.family) ?? new Set<string>();
    for (const n of t.names) names.add(n);
    namesByFamily.set(t.family, names);
  }
  // Advisories by (family, lookup name) of the packages they name.
  const byPackage = new Map<string, OsvAdvisory[]>();
  for (const [family, names] of namesByFamily) {
    const stored: StoredAdvisory[] = await store.findByPackages(family, [...names]);
    for (const s of stored) {
      const advisory = storedAdvisory(s.content);
      const keys = new Set((advisory.affected ?? []).flatMap((a) => (a.package && ecosystemFamily(a.package.ecosystem) === family ? [`${family}\u0000${lookupName(family, a.package.name)}`] : [])));
      for (const key of keys) {
        const list = byPackage.get(key);
        if (list) list.push(advisory);
        else byPackage.set(key, [advisory]);
      }
    }
  }
  const findings: Finding[] = [];
  for (const t of targets) {
    const seen = new Set<string>();
    for (const name of t.names) {
      for (const advisory of byPackage.get(`${t.family}\u0000${name}`) ?? []) {
        if (seen.has(advisory.id)) continue;
        seen.add(advisory.id);
        const finding = matchOne(advisory, t);
        if (finding) findings.push(finding);
      }
    }
  }
  return findings.sort(compareFindings);
}
