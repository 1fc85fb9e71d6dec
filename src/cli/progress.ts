// A one-line progress display on stderr: redrawn in place on a terminal, plain lines (one per
// phase, at its end) otherwise, so logs and pipes stay readable.
export class Progress {
  private phase: string | undefined;
  private last = '';
  private lastDraw = 0;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly enabled = true,
  ) {}

  private get tty(): boolean {
    return this.stream.isTTY === true;
  }

  /** `unit: 'bytes'` shows the counts as sizes (KiB, MiB, ...). */
  update(phase: string, done: number, total?: number, unit?: 'bytes'): void {
    if (!this.enabled) return;
    if (phase !== this.phase) this.end();
    this.phase = phase;
    const show = unit === 'bytes' ? formatBytes : String;
    this.last = total !== undefined && total > 0 ? `${phase}: ${bar(done / total)} ${show(done)}/${show(total)}` : `${phase}: ${show(done)}`;
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.lastDraw < 80 && done !== total) return;
    this.lastDraw = now;
    this.stream.write(`\r\x1b[2K${this.last}`);
  }

  /** Finish the current phase's line. */
  end(): void {
    if (!this.enabled || this.phase === undefined) return;
    this.stream.write(this.tty ? `\r\x1b[2K${this.last}\n` : `${this.last}\n`);
    this.phase = undefined;
  }
}

function bar(fraction: number, width = 30): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}
