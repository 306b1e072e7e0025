/** The per-line score an early-stop gate reads from an evaluation flow's outputs (line_score). */
import { lineScoreOf, lineScorePath, parseLineScore } from '../../src/shared/eval/early-stop-score.js';
import type { Gate } from '../../src/shared/config/types.js';

test('numbers in [0, 1] and booleans are scores; a dict output is read by output.key', () => {
  expect(lineScoreOf({ grade: 0.25 }, 'grade')).toEqual({ score: 0.25 });
  expect(lineScoreOf({ grade: true }, 'grade')).toEqual({ score: 1 });
  expect(lineScoreOf({ grade: false }, 'grade')).toEqual({ score: 0 });
  expect(lineScoreOf({ grade: { correct: true, note: 'x' } }, 'grade.correct')).toEqual({ score: 1 });
  expect(lineScoreOf({ grade: { score: 0 } }, 'grade.score')).toEqual({ score: 0 });
  // An output whose own name has a dot is read whole first.
  expect(lineScoreOf({ 'a.b': 1, a: { b: 0 } }, 'a.b')).toEqual({ score: 1 });
});

test('a missing value is no score; text, numbers outside [0, 1] and objects are refused with what was found', () => {
  expect(lineScoreOf({}, 'grade')).toEqual({});
  expect(lineScoreOf({ grade: null }, 'grade')).toEqual({});
  expect(lineScoreOf({ grade: { other: 1 } }, 'grade.correct')).toEqual({});
  expect(lineScoreOf({ grade: 'Correct' }, 'grade')).toEqual({ bad: true, found: 'Correct' });
  expect(lineScoreOf({ grade: 4 }, 'grade')).toEqual({ bad: true, found: 4 });
  expect(lineScoreOf({ grade: -0.1 }, 'grade')).toEqual({ bad: true, found: -0.1 });
  expect(lineScoreOf({ grade: { correct: true } }, 'grade')).toEqual({ bad: true, found: { correct: true } });
});

test('the score is read from line_score, else from the output named like the metric', () => {
  const gate = { metric: 'accuracy' } as Gate;
  expect(lineScorePath(gate)).toBe('accuracy');
  expect(lineScorePath({ ...gate, lineScore: 'grade.correct' })).toBe('grade.correct');
});

test('output == value scores a text or coded grade: 1 when the value is that one, else 0', () => {
  expect(parseLineScore('grade == Correct')).toEqual({ path: 'grade', equals: 'Correct' });
  expect(parseLineScore('grade=="Correct"')).toEqual({ path: 'grade', equals: 'Correct' });
  expect(parseLineScore('grade.label')).toEqual({ path: 'grade.label' });
  expect(lineScoreOf({ grade: 'Correct' }, 'grade == Correct')).toEqual({ score: 1 });
  expect(lineScoreOf({ grade: 'Incorrect' }, 'grade == Correct')).toEqual({ score: 0 });
  // The template's math evaluation: 1 correct, 0 wrong, -1 an exception; accuracy counts the 1s.
  expect([1, 0, -1].map((v) => lineScoreOf({ score: v }, 'score == 1').score)).toEqual([1, 0, 0]);
  expect(lineScoreOf({ grade: { label: 'A' } }, 'grade.label == A')).toEqual({ score: 1 });
  expect(lineScoreOf({}, 'grade == Correct')).toEqual({});
  expect(lineScoreOf({ grade: { label: 'A' } }, 'grade == A')).toEqual({ bad: true, found: { label: 'A' } });
});
