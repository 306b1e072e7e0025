/**
 * A set of line numbers: one bit per line for the usual 0..n line numbers (a million lines in 125 kB, where a
 * Set<number> takes tens of MB), a Set only for line numbers that are not small non-negative integers.
 * @module
 */
const MAX_BIT = 2 ** 31 - 1;

export class LineSet {
  private bits = new Uint32Array(1024);
  private others: Set<number> | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  has(lineNumber: number): boolean {
    if (Number.isInteger(lineNumber) && lineNumber >= 0 && lineNumber <= MAX_BIT) {
      const word = lineNumber >>> 5;
      return word < this.bits.length && (this.bits[word] & (1 << (lineNumber & 31))) !== 0;
    }
    return this.others?.has(lineNumber) ?? false;
  }

  /** Adds a line; false when it was there already. */
  add(lineNumber: number): boolean {
    if (Number.isInteger(lineNumber) && lineNumber >= 0 && lineNumber <= MAX_BIT) {
      const word = lineNumber >>> 5;
      if (word >= this.bits.length) {
        const grown = new Uint32Array(Math.max(word + 1, this.bits.length * 2));
        grown.set(this.bits);
        this.bits = grown;
      }
      const bit = 1 << (lineNumber & 31);
      if (this.bits[word] & bit) return false;
      this.bits[word] |= bit;
    } else {
      this.others ??= new Set();
      if (this.others.has(lineNumber)) return false;
      this.others.add(lineNumber);
    }
    this.count++;
    return true;
  }
}
