// "Field: value" stanzas with indented continuation lines, separated by blank lines: the
// format of dpkg's status file and of Python's METADATA / PKG-INFO headers.

/** Field names are lower-cased; continuation lines are joined with "\n". */
export function parseStanzas(text: string): Map<string, string>[] {
  const stanzas: Map<string, string>[] = [];
  let current = new Map<string, string>();
  let lastKey: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') {
      if (current.size > 0) stanzas.push(current);
      current = new Map();
      lastKey = undefined;
      continue;
    }
    if ((line[0] === ' ' || line[0] === '\t') && lastKey !== undefined) {
      current.set(lastKey, `${current.get(lastKey) ?? ''}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    lastKey = line.slice(0, colon).trim().toLowerCase();
    // A repeated field (Python's Classifier) keeps its first value: the fields read here are single.
    if (!current.has(lastKey)) current.set(lastKey, line.slice(colon + 1).trim());
    else lastKey = undefined;
  }
  if (current.size > 0) stanzas.push(current);
  return stanzas;
}

/** The header block only (up to the first blank line), as in METADATA whose body is a README. */
export function parseHeaders(text: string): Map<string, string> {
  const end = text.search(/\r?\n\r?\n/);
  return parseStanzas(end < 0 ? text : text.slice(0, end))[0] ?? new Map();
}
