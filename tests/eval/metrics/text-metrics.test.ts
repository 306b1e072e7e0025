import {
  bleu,
  exactMatch,
  lcsLength,
  normalizeSquad,
  rougeL,
  tokenF1,
} from '../../../src/shared/eval/metrics/index.js';

describe('exactMatch', () => {
  it('trims by default and is case-sensitive unless asked', () => {
    expect(exactMatch('  Paris\n', 'Paris')).toBe(1);
    expect(exactMatch('paris', 'Paris')).toBe(0);
    expect(exactMatch('paris', 'Paris', { caseInsensitive: true })).toBe(1);
    expect(exactMatch(' Paris', 'Paris', { trim: false })).toBe(0);
  });

  it('matches any of several references, and composed/decomposed accents alike (NFC)', () => {
    expect(exactMatch('Lyon', ['Paris', 'Lyon'])).toBe(1);
    expect(exactMatch('Cafe\u0301', 'Café')).toBe(1);
  });
});

describe('tokenF1 (SQuAD)', () => {
  it('normalises like the official script: lowercase, punctuation, articles, whitespace', () => {
    expect(normalizeSquad('  The Eiffel-Tower, in  PARIS!  ')).toBe('eiffeltower in paris');
    expect(normalizeSquad('an apple a day')).toBe('apple day');
  });

  it('scores partial overlap: "in Paris, France" vs "Paris" → P = 1/3, R = 1, F1 = 0.5', () => {
    expect(tokenF1('in Paris, France', 'Paris')).toBeCloseTo(0.5, 12);
  });

  it('counts repeated tokens as a multiset: "the cat the cat" vs "cat sat" → overlap 1, P = 1/2, R = 1/2', () => {
    // Normalised tokens: [cat, cat] vs [cat, sat]; overlap min(2, 1) = 1.
    expect(tokenF1('the cat the cat', 'cat sat')).toBeCloseTo(0.5, 12);
  });

  it('is 1 for answers equal after normalisation, 0 for no overlap, best over references', () => {
    expect(tokenF1('the Eiffel Tower', 'Eiffel Tower.')).toBe(1);
    expect(tokenF1('London', 'Paris')).toBe(0);
    // "Denver Broncos" vs ["Broncos", "Denver Broncos"]: 2/3 against the first, 1 against the second.
    expect(tokenF1('Denver Broncos', ['Broncos', 'Denver Broncos'])).toBe(1);
    expect(tokenF1('Denver Broncos', 'Broncos')).toBeCloseTo(2 / 3, 12);
  });

  it('SQuAD v2 rule for empty answers: both empty → 1, one empty → 0', () => {
    expect(tokenF1('The', 'a')).toBe(1); // both normalise to nothing
    expect(tokenF1('', 'Paris')).toBe(0);
  });
});

describe('bleu (sentence BLEU-4)', () => {
  // Hand count for "the cat sat on the mat" against "the cat is on the mat" (both 6 tokens, BP = 1):
  //   unigrams 5/6 (all but "sat"), bigrams 3/5 ("the cat", "on the", "the mat"),
  //   trigrams 1/4 ("on the mat"), 4-grams 0/3.
  const cand = 'the cat sat on the mat';
  const ref = 'the cat is on the mat';

  it('is 0 unsmoothed, because one order has no match', () => {
    expect(bleu(cand, ref, { smoothing: 'none' })).toBe(0);
  });

  it('add-one smoothing (default; Lin & Och 2004, NLTK method2): (5/6 · 4/6 · 2/5 · 1/4)^(1/4) = (1/18)^(1/4)', () => {
    expect(bleu(cand, ref)).toBeCloseTo(Math.pow(1 / 18, 0.25), 12); // 0.485492
  });

  it('epsilon smoothing (Chen & Cherry method 1, NLTK method1): the 4-gram precision becomes 0.1/3', () => {
    expect(bleu(cand, ref, { smoothing: 'epsilon' })).toBeCloseTo(
      Math.pow((5 / 6) * (3 / 5) * (1 / 4) * (0.1 / 3), 0.25),
      12,
    ); // 0.254066
  });

  it('applies the brevity penalty: "the cat" vs a 6-token reference → e^(1 − 6/2) · (1 · 1 · 1/2 · 1/2)^(1/4)', () => {
    // p1 = 2/2, p2 = (1+1)/(1+1), p3 = p4 = (0+1)/(max(1,0)+1) = 1/2 with add-one.
    expect(bleu('the cat', ref)).toBeCloseTo(Math.exp(-2) * Math.pow(0.25, 0.25), 12); // 0.095700
  });

  it('clips counts by the most in any reference (Papineni et al. 2002 example): 2/7', () => {
    const score = bleu('the the the the the the the', ['The cat is on the mat', 'There is a cat on the mat'], {
      maxOrder: 1,
      lowercase: true,
    });
    expect(score).toBeCloseTo(2 / 7, 12); // closest reference length is 7 → BP = 1
  });

  it('takes the reference length closest to the candidate, the shorter one on a tie', () => {
    // Candidate 3 tokens, references of 3 and 7: r = 3, BP = 1 (the long one would give e^(1 − 7/3)).
    expect(bleu('the cat sat', ['the cat sat', 'the cat sat on the mat today'], { maxOrder: 3 })).toBeCloseTo(1, 12);
    // Candidate 4 tokens, references of 3 and 5 (both 1 away): r = 3, so c > r and BP = 1, not e^(1 − 5/4).
    expect(bleu('a b c d', ['a b c', 'a b c d e'], { maxOrder: 1 })).toBeCloseTo(1, 12);
  });

  it('is 1 for an identical sentence and 0 for an empty candidate; punctuation is its own token', () => {
    expect(bleu('The cat sat on the mat.', 'The cat sat on the mat.')).toBeCloseTo(1, 12);
    expect(bleu('', ref)).toBe(0);
    // "mat." and "mat" share the token "mat": without splitting, the last unigram would miss.
    expect(bleu('on the mat.', 'on the mat', { maxOrder: 1 })).toBeCloseTo(3 / 4, 12);
  });
});

describe('rougeL', () => {
  // Lin (2004) §3.1 examples: reference S1 "police killed the gunman".
  const s1 = 'police killed the gunman';

  it('S2 "police kill the gunman" → LCS 3 of 4: 0.75; S3 "the gunman kill police" → LCS 2: 0.5', () => {
    expect(rougeL('police kill the gunman', s1)).toBeCloseTo(0.75, 12);
    expect(rougeL('the gunman kill police', s1)).toBeCloseTo(0.5, 12);
  });

  it('beta weighs recall: "the cat" vs a 6-token reference, P = 1, R = 1/3', () => {
    const ref = 'The cat sat on the mat.';
    expect(rougeL('the cat', ref)).toBeCloseTo(0.5, 12); // F1 = 2·1·(1/3)/(4/3)
    expect(rougeL('the cat', ref, { beta: 1.2 })).toBeCloseTo((2.44 * (1 / 3)) / (1 / 3 + 1.44), 12); // 0.458647
  });

  it('is 0 with nothing in common, and the LCS skips gaps', () => {
    expect(rougeL('alpha beta', 'gamma delta')).toBe(0);
    expect(lcsLength(['a', 'b', 'c', 'd', 'e'], ['a', 'x', 'c', 'y', 'e'])).toBe(3);
  });
});
