// Turns the measurements of every round and target into the one table a run prints: the
// median per target with the spread over rounds, the ratio of the registry under test to
// Distribution (`--vs`) or to nginx (blob GET), and whether each of issue 9's targets is met.
import { fmt, median, type Row } from './context.js';

/** One row as a workload returned it, for one target in one round. */
export interface Measurement {
  target: 'registry' | 'distribution' | 'machine';
  round: number;
  row: Row;
}

/** A summarised row: the registry's (or the machine's) median, Distribution's, and their ratio. */
export interface ResultRow extends Row {
  distribution?: number | null;
  /** registry / Distribution, or registry / nginx for the blob GET rows. */
  ratio?: number | null;
  /** The target for this row, e.g. ">= 5x Distribution", and whether it is met. */
  goal?: { text: string; met: boolean | null };
}

interface Goal {
  row: RegExp;
  text: string;
  check(value: number | null, ratio: number | null): boolean | null;
}

const atLeast = (min: number) => (_: number | null, ratio: number | null) => (ratio === null ? null : ratio >= min);
const below = (max: number) => (value: number | null) => (value === null ? null : value < max);

// Issue 9's targets. Ratios against Distribution exist only with --vs.
const GOALS: Goal[] = [
  { row: /^manifest (GET|HEAD), (16|64) conn, rate$/, text: '>= 5x Distribution', check: atLeast(5) },
  { row: /^manifest (GET|HEAD), 64 conn( \(loadgen cross-check\))?, p99$/, text: '< 10 ms', check: below(10) },
  { row: /^blob GET, \d+ streams?( \(curl cross-check\))? vs nginx$/, text: '>= 0.9x nginx', check: (value) => (value === null ? null : value >= 0.9) },
  { row: /^(monolithic|chunked) upload \(/, text: '>= 1.5x Distribution', check: atLeast(1.5) },
  { row: /^peak RSS/, text: '< 150 MB', check: below(150) },
];

function spread(values: number[]): string {
  if (values.length < 2) return '';
  return `rounds: ${values.map(fmt).join(', ')}`;
}

/** Median per row label and target, in the order rows first appeared; derived ratio rows added. */
export function aggregate(measurements: Measurement[], vs: boolean): ResultRow[] {
  const labels: string[] = [];
  const byLabel = new Map<string, Measurement[]>();
  for (const m of measurements) {
    if (!byLabel.has(m.row.workload)) {
      labels.push(m.row.workload);
      byLabel.set(m.row.workload, []);
    }
    byLabel.get(m.row.workload)!.push(m);
  }
  const summarise = (ms: Measurement[]) => {
    const values = ms.map((m) => m.row.value).filter((v): v is number => v !== null);
    return { value: values.length === ms.length && values.length ? median(values) : null, values };
  };
  const out: ResultRow[] = [];
  const medians = new Map<string, number | null>();
  for (const label of labels) {
    const ms = byLabel.get(label)!;
    const ours = ms.filter((m) => m.target !== 'distribution');
    const theirs = ms.filter((m) => m.target === 'distribution');
    const mine = summarise(ours);
    const last = (ours[ours.length - 1] ?? ms[ms.length - 1]!).row;
    const row: ResultRow = {
      workload: label,
      value: ours.length ? mine.value : null,
      unit: last.unit,
      notes: [spread(mine.values), last.notes].filter(Boolean).join('; '),
      ...(ms.some((m) => m.row.failed || m.row.value === null) ? { failed: ms.some((m) => m.row.failed) } : {}),
      ...(ms.some((m) => m.row.flagged) ? { flagged: true } : {}),
    };
    medians.set(label, row.value);
    if (vs && theirs.length) {
      const d = summarise(theirs);
      row.distribution = d.value;
      row.ratio = row.value !== null && d.value ? row.value / d.value : null;
      if (theirs.length > 1) row.notes += `; Distribution rounds: ${d.values.map(fmt).join(', ')}`;
      if (!ours.length) row.notes = theirs[theirs.length - 1]!.row.notes;
    }
    out.push(row);
  }
  // The registry's blob GET over nginx serving the same file (the limits workload).
  for (const streams of ['1 stream', '8 streams', '1 stream (curl cross-check)']) {
    const ours = medians.get(`blob GET, ${streams}`);
    const nginx = medians.get(`nginx, same blob file, ${streams}`);
    if (ours === undefined || nginx === undefined) continue;
    out.push({ workload: `blob GET, ${streams} vs nginx`, value: ours !== null && nginx ? ours / nginx : null, unit: 'x', notes: 'registry MB/s / nginx MB/s (medians)' });
  }
  // Uploads over the disk's flushed write rate of the same size (the limits workload).
  const durable = medians.get('disk write + fdatasync, upload size (durable)');
  if (durable !== undefined) {
    for (const label of labels.filter((l) => /^(monolithic|chunked) upload/.test(l))) {
      const ours = medians.get(label);
      out.push({ workload: `${label.replace(/ \(.*$/, '')} vs durable disk write`, value: ours !== null && ours !== undefined && durable ? ours / durable : null, unit: 'x', notes: 'registry MB/s / dd conv=fdatasync MB/s (medians)' });
    }
  }
  for (const row of out) {
    const goal = GOALS.find((g) => g.row.test(row.workload));
    if (!goal) continue;
    const needsVs = goal.text.includes('Distribution');
    if (needsVs && !vs) continue;
    const met = goal.check(row.value, row.ratio ?? null);
    row.goal = { text: goal.text, met };
    if (met === false) row.flagged = true;
  }
  return out;
}

function cell(value: number | null | undefined): string {
  return value === undefined ? '' : value === null ? 'n/a' : fmt(value);
}

export function resultTable(rows: ResultRow[], vs: boolean): string {
  const goalCell = (r: ResultRow) => (r.goal ? `${r.goal.met === null ? '?' : r.goal.met ? 'met' : 'MISSED'} (${r.goal.text})` : '');
  const header = vs ? ['workload', 'registry', 'Distribution', 'ratio', 'unit', 'target', 'notes'] : ['workload', 'value', 'unit', 'target', 'notes'];
  const cells = rows.map((r) =>
    vs
      ? [r.workload, cell(r.value), cell(r.distribution), r.ratio === undefined ? '' : r.ratio === null ? 'n/a' : `${fmt(r.ratio)}x`, r.unit, goalCell(r), (r.flagged ? '!! ' : '') + r.notes]
      : [r.workload, cell(r.value), r.unit, goalCell(r), (r.flagged ? '!! ' : '') + r.notes],
  );
  const numeric = new Set(vs ? [1, 2, 3] : [1]);
  const notes = header.length - 1;
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (numeric.has(i) ? v.padStart(widths[i]!) : i === notes ? v : v.padEnd(widths[i]!))).join('  ');
  return [line(header), widths.map((w, i) => '-'.repeat(i === notes ? Math.min(w, 60) : w)).join('  '), ...cells.map(line)].join('\n');
}
