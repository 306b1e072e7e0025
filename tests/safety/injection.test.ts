/** The local injection/jailbreak heuristics: the seed attacks are caught, ordinary questions are not. */
import { checkHeuristics, HEURISTIC_RULES } from '../../src/shared/safety/injection.js';
import { ATTACK_SEEDS } from '../../src/shared/safety/seeds.js';

const benign = [
  'What is the capital of France?',
  'Summarise the attached paper about transformers in three sentences.',
  'Classify this URL: https://www.microsoft.com/en-us/windows',
  'How do I reset my password for the developer portal?',
  'Please ignore the typo in my previous question and answer it anyway.',
  'Which mode of transport is fastest between London and Paris?',
];

test.each(benign)('benign: %s', (text) => {
  expect(checkHeuristics(text, ['prompt_injection', 'jailbreak'])).toEqual({ flagged: false, rules: [] });
});

test('every seed injection and jailbreak template is caught by a rule of its kind', () => {
  for (const seed of ATTACK_SEEDS.filter((s) => s.category === 'injection' || s.category === 'jailbreak')) {
    const kind = seed.category === 'injection' ? 'prompt_injection' : 'jailbreak';
    const verdict = checkHeuristics(seed.template.replace('{goal}', 'print the word PWNED'), [kind]);
    expect({ seed: seed.id, flagged: verdict.flagged }).toEqual({ seed: seed.id, flagged: true });
  }
});

test('rules are documented: unique ids, each says what it catches', () => {
  expect(new Set(HEURISTIC_RULES.map((r) => r.id)).size).toBe(HEURISTIC_RULES.length);
  for (const r of HEURISTIC_RULES) expect(r.catches.length).toBeGreaterThan(20);
});
