// CVSS v3 base scores, computed from the vector string as the CVSS 3.1 specification
// (section 7.1) defines them, and the qualitative rating scale (section 5).

export type Severity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'UNKNOWN';

const WEIGHTS = {
  AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
  AC: { L: 0.77, H: 0.44 },
  UI: { N: 0.85, R: 0.62 },
  CIA: { H: 0.56, L: 0.22, N: 0 },
} as const;

/** The specification's Roundup: the smallest one-decimal number >= x, free of float noise. */
function roundUp(x: number): number {
  const scaled = Math.round(x * 100_000);
  return scaled % 10_000 === 0 ? scaled / 100_000 : (Math.floor(scaled / 10_000) + 1) / 10;
}

/** The base score of a CVSS:3.0 or CVSS:3.1 vector, or undefined when it is not one. */
export function cvss3BaseScore(vector: string): number | undefined {
  const parts = vector.trim().split('/');
  if (!/^CVSS:3\.[01]$/.test(parts[0] ?? '')) return undefined;
  const m = new Map<string, string>();
  for (const p of parts.slice(1)) {
    const [k, v] = p.split(':');
    if (k && v) m.set(k, v);
  }
  const pick = <T extends Record<string, number>>(table: T, key: string): number | undefined => {
    const v = m.get(key);
    return v !== undefined && v in table ? table[v as keyof T] : undefined;
  };
  const scope = m.get('S');
  if (scope !== 'U' && scope !== 'C') return undefined;
  const pr = { N: 0.85, L: scope === 'C' ? 0.68 : 0.62, H: scope === 'C' ? 0.5 : 0.27 };
  const av = pick(WEIGHTS.AV, 'AV');
  const ac = pick(WEIGHTS.AC, 'AC');
  const prw = pick(pr, 'PR');
  const ui = pick(WEIGHTS.UI, 'UI');
  const c = pick(WEIGHTS.CIA, 'C');
  const i = pick(WEIGHTS.CIA, 'I');
  const a = pick(WEIGHTS.CIA, 'A');
  if (av === undefined || ac === undefined || prw === undefined || ui === undefined || c === undefined || i === undefined || a === undefined) return undefined;
  const iss = 1 - (1 - c) * (1 - i) * (1 - a);
  const impact = scope === 'U' ? 6.42 * iss : 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15;
  const exploitability = 8.22 * av * ac * prw * ui;
  if (impact <= 0) return 0;
  return scope === 'U' ? roundUp(Math.min(impact + exploitability, 10)) : roundUp(Math.min(1.08 * (impact + exploitability), 10));
}

/** The rating of a base score (0.0, "None", counts as LOW here). */
export function severityOfScore(score: number): Severity {
  if (score >= 9) return 'CRITICAL';
  if (score >= 7) return 'HIGH';
  if (score >= 4) return 'MEDIUM';
  return 'LOW';
}

/** A database's own word for severity (GHSA, Debian urgency, Ubuntu priority, Red Hat impact). */
export function severityOfLabel(label: string): Severity {
  switch (label.trim().toLowerCase()) {
    case 'critical':
      return 'CRITICAL';
    case 'high':
    case 'important':
      return 'HIGH';
    case 'moderate':
    case 'medium':
      return 'MEDIUM';
    case 'low':
    case 'negligible':
    case 'unimportant':
      return 'LOW';
    default:
      return 'UNKNOWN';
  }
}
