/**
 * Pairs a candidate's scores with a reference's (the default variant, or a baseline results
 * file) line by line, by test-case id and repeat index, so paired tests compare like with like.
 * @module
 */

/** One scored line: which test case, which repeat of it, and the metric value. */
export interface ScoreRow {
  /** Test-case id (stable across runs: e.g. a dataset id column, or the line number). */
  id: string;
  /** Repeat index when a test case runs several times; default 0. */
  repeat?: number;
  /** The metric value (true/false count as 1/0). */
  value: number | boolean;
}

/** A candidate score and the reference score of the same test case and repeat. */
export interface PairedScore {
  id: string;
  repeat: number;
  candidate: number;
  reference: number;
}

/** The pairs, in candidate order, and what could not be paired. */
export interface Pairing {
  pairs: PairedScore[];
  /** Keys (`id` or `id#repeat`) present only in the candidate. */
  unmatchedCandidate: string[];
  /** Keys present only in the reference. */
  unmatchedReference: string[];
  /** Keys that occur more than once on one side; only the first occurrence is paired. */
  duplicates: string[];
}

/** The key printed for a row: the id alone for repeat 0, `id#repeat` otherwise. */
export function pairKey(id: string, repeat: number): string {
  return repeat === 0 ? id : `${id}#${repeat}`;
}

/** Rows by an unambiguous internal key (an id may itself contain '#'). */
function index(rows: readonly ScoreRow[], duplicates: Set<string>): Map<string, ScoreRow> {
  const byKey = new Map<string, ScoreRow>();
  for (const row of rows) {
    const key = `${row.repeat ?? 0}\u0000${row.id}`;
    if (byKey.has(key)) duplicates.add(pairKey(row.id, row.repeat ?? 0));
    else byKey.set(key, row);
  }
  return byKey;
}

const asNumber = (v: number | boolean): number => (typeof v === 'boolean' ? (v ? 1 : 0) : v);

/** Pairs rows by (id, repeat). Rows without a partner are listed, not dropped silently. */
export function pairRows(candidate: readonly ScoreRow[], reference: readonly ScoreRow[]): Pairing {
  const duplicates = new Set<string>();
  const cand = index(candidate, duplicates);
  const ref = index(reference, duplicates);
  const pairs: PairedScore[] = [];
  const unmatchedCandidate: string[] = [];
  for (const [key, row] of cand) {
    const other = ref.get(key);
    if (!other) {
      unmatchedCandidate.push(pairKey(row.id, row.repeat ?? 0));
      continue;
    }
    pairs.push({
      id: row.id,
      repeat: row.repeat ?? 0,
      candidate: asNumber(row.value),
      reference: asNumber(other.value),
    });
  }
  const unmatchedReference = [...ref]
    .filter(([key]) => !cand.has(key))
    .map(([, row]) => pairKey(row.id, row.repeat ?? 0));
  return { pairs, unmatchedCandidate, unmatchedReference, duplicates: [...duplicates] };
}
