/** The per-line score an early-stop gate reads from an evaluation flow's outputs (line_score). */
import { lineScoreOf, lineScorePath } from '../../src/shared/eval/early-stop-run.js';
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
