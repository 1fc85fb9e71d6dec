// Splitting long lists for SQL statements: IN lists and multi-row inserts stay below every
// dialect's limit on bound parameters.

/** Bound parameters per IN list, below every dialect's limit. */
export const IN_CHUNK = 500;

export function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
