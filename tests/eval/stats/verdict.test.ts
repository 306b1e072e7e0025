import { compareScores, decideVerdict, type ScoreRow } from '../../../src/shared/eval/stats/index.js';

const rows = (values: number[]): ScoreRow[] => values.map((value, i) => ({ id: `line-${i}`, value }));
// Ten paired lines; paired t: delta 0.041, p = 0.000405 (see paired.test.ts for the reference computation).
const better = [0.82, 0.75, 0.91, 0.68, 0.88, 0.79, 0.85, 0.72, 0.9, 0.81];
const baseline = [0.78, 0.7, 0.85, 0.69, 0.8, 0.75, 0.8, 0.7, 0.86, 0.77];

describe('verdict on a candidate against a reference', () => {
  it('Improved when significantly higher and higher is better', () => {
    const c = compareScores(rows(better), rows(baseline), 'continuous');
    expect(decideVerdict(c)).toEqual({
      verdict: 'Improved',
      reason: 'significant',
      message: 'improved by 0.041 (p = 0.000405)',
    });
  });

  it('Degraded when significantly lower', () => {
    const c = compareScores(rows(baseline), rows(better), 'continuous');
    expect(decideVerdict(c)).toMatchObject({ verdict: 'Degraded', reason: 'significant' });
  });

  it('Degraded when a lower-is-better metric (latency) went up', () => {
    const latencyMs = compareScores(
      rows(better.map((x) => x * 1000)),
      rows(baseline.map((x) => x * 1000)),
      'continuous',
    );
    expect(decideVerdict(latencyMs, { higherIsBetter: false }).verdict).toBe('Degraded');
    const faster = compareScores(rows(baseline.map((x) => x * 1000)), rows(better.map((x) => x * 1000)), 'continuous');
    expect(decideVerdict(faster, { higherIsBetter: false }).verdict).toBe('Improved');
  });

  it('Inconclusive when not significant (Wilcoxon p = 0.121 on 12 Likert lines)', () => {
    const c = compareScores(
      rows([4, 5, 3, 4, 5, 4, 3, 5, 4, 4, 2, 5]),
      rows([3, 4, 3, 2, 4, 4, 4, 3, 3, 4, 3, 4]),
      'likert',
    );
    expect(decideVerdict(c)).toEqual({
      verdict: 'Inconclusive',
      reason: 'not-significant',
      message: 'not significant (p = 0.121 > alpha 0.05)',
    });
    // The same data passes a looser alpha.
    expect(decideVerdict(c, { alpha: 0.2 }).verdict).toBe('Improved');
  });

  it('Inconclusive with "too few lines" below the minimum, however clear the change', () => {
    const c = compareScores(rows(better.slice(0, 5)), rows(baseline.slice(0, 5)), 'continuous');
    expect(c.pValue).toBeLessThan(0.05);
    expect(decideVerdict(c)).toEqual({
      verdict: 'Inconclusive',
      reason: 'too-few-lines',
      message: 'too few lines (5 paired, need at least 10)',
    });
    expect(decideVerdict(c, { minN: 5 }).verdict).toBe('Improved');
  });

  it('Inconclusive when the change is significant but below the practical margin', () => {
    const c = compareScores(rows(better), rows(baseline), 'continuous');
    expect(decideVerdict(c, { minAbsoluteChange: 0.05 })).toEqual({
      verdict: 'Inconclusive',
      reason: 'below-margin',
      message: 'change 0.041 is smaller than the margin 0.05',
    });
    // Relative: 0.041 / 0.77 = 5.3% of the reference mean.
    expect(decideVerdict(c, { minRelativeChange: 0.1 })).toMatchObject({
      reason: 'below-margin',
      message: 'change 5.32% is smaller than the margin 10%',
    });
    expect(decideVerdict(c, { minAbsoluteChange: 0.04, minRelativeChange: 0.05 }).verdict).toBe('Improved');
  });

  it('unpaired lines do not count toward the minimum', () => {
    const cand = rows(better);
    const ref = rows(baseline).map((r, i) => (i < 3 ? { ...r, id: `other-${i}` } : r));
    const c = compareScores(cand, ref, 'continuous');
    expect(c.n).toBe(7);
    expect(c.pairing.unmatchedCandidate).toEqual(['line-0', 'line-1', 'line-2']);
    expect(decideVerdict(c).reason).toBe('too-few-lines');
  });
});
