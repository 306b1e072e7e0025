/**
 * Assembles Markdown under a byte budget (GitHub step summaries abort above 1 MiB, PR
 * comments above ~64 KB). Tables are cut between rows, never inside one, and every cut
 * leaves a note saying how much was left out.
 * @module
 */

/** A Markdown table: header cells and rows of already-escaped cells. */
export interface MarkdownTable {
  header: string[];
  rows: string[][];
  /** Text under the table when it is shown whole (e.g. what the intervals mean). */
  footnote?: string;
}

/** Room kept free so a truncation note and the final "left out" note always fit. */
const NOTE_RESERVE = 600;

export class MarkdownBudget {
  private readonly parts: string[] = [];
  private used = 0;
  private readonly omitted: string[] = [];
  private truncated = false;

  /**
   * @param share when set, a table may use at most this fraction of the bytes still free, so
   *   one long table (hundreds of passed gates) cannot crowd out every section after it.
   */
  constructor(
    private readonly maxBytes: number,
    private readonly whereFull: string,
    private readonly share?: number,
  ) {}

  /** Text that must be there (marker, headline); added even when it alone breaks the reserve. */
  addRequired(text: string): void {
    this.push(text);
  }

  /** A section heading and its table, cut between rows when the budget (or its share of it) runs out; `last` tables may use all that is left. */
  addTable(title: string, table: MarkdownTable, totalRows = table.rows.length, last = false): void {
    const head = `\n### ${title}\n\n${row(table.header)}${row(table.header.map(() => '---'))}`;
    const firstRow = table.rows.length > 0 ? row(table.rows[0]) : '';
    if (!this.fits(head + firstRow)) {
      this.omitted.push(title);
      return;
    }
    const limit = this.share === undefined || last ? Infinity : this.used + (this.maxBytes - this.used) * this.share;
    this.push(head);
    let shown = 0;
    for (const cells of table.rows) {
      const text = row(cells);
      if (!this.fits(text) || (shown > 0 && this.used + Buffer.byteLength(text) > limit)) break;
      this.push(text);
      shown++;
    }
    if (shown < totalRows) {
      if (shown < table.rows.length) this.truncated = true;
      this.push(`\n_${totalRows - shown} more row(s) not shown — ${this.whereFull}._\n`);
    } else if (table.footnote) {
      if (this.fits(`\n${table.footnote}\n`)) this.push(`\n${table.footnote}\n`);
    }
  }

  /** A paragraph that is dropped, not cut, when it does not fit. */
  addOptional(text: string): void {
    if (this.fits(text)) this.push(text);
  }

  /** Whether anything was cut or left out. */
  get shortened(): boolean {
    return this.truncated || this.omitted.length > 0;
  }

  toString(): string {
    let text = this.parts.join('');
    if (this.omitted.length > 0 || this.truncated) {
      const left = this.omitted.length > 0 ? ` Left out: ${this.omitted.join(', ')}.` : '';
      text += `\n> [!NOTE]\n> This summary was shortened to stay under ${formatBytes(this.maxBytes)}.${left} The full report has everything.\n`;
    }
    return Buffer.byteLength(text) <= this.maxBytes ? text : cutAtLine(text, this.maxBytes);
  }

  private fits(text: string): boolean {
    return this.used + Buffer.byteLength(text) + NOTE_RESERVE <= this.maxBytes;
  }

  private push(text: string): void {
    this.parts.push(text);
    this.used += Buffer.byteLength(text);
  }
}

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |\n`;
}

/** Last resort for a budget smaller than the required text: cut at a line end. */
function cutAtLine(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text);
  const cut = bytes.subarray(0, maxBytes).lastIndexOf(0x0a);
  return cut > 0 ? bytes.subarray(0, cut + 1).toString() : '';
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
  if (n >= 10_000) return `${Math.floor(n / 1000)} KB`;
  return `${n} bytes`;
}

/**
 * One table cell from user text: on one line, pipes escaped, HTML tags shown as text,
 * @mentions defused (a PR comment must not ping people named in model output), and capped
 * at `max` characters.
 */
export function mdCell(text: string, max = 160): string {
  let flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length > max) flat = `${flat.slice(0, max - 1)}…`;
  return flat
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/@(?=\w)/g, '@\u200b');
}
