/** The local model server's embeddings rank passages by the words that carry meaning, as retrieval needs. */
import { embedText } from '../../src/model-server/index.js';

const cosine = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);
const sim = (x: string, y: string) => cosine(embedText(x, 256, 1), embedText(y, 256, 1));

test('function words do not make texts similar; a shared content word does', () => {
  expect(sim('what is the price of the ticket', 'where is the station of the city')).toBeCloseTo(0, 5);
  expect(sim('what is the price of the ticket', 'ticket prices rise in May')).toBeGreaterThan(0.3);
});

test('a plural matches its singular; identical texts are 1; a text of function words only still has a vector', () => {
  expect(sim('membership costs', 'membership cost')).toBeCloseTo(1, 5);
  expect(sim('the glass', 'the glass')).toBeCloseTo(1, 5);
  expect(sim('class', 'clas')).toBeLessThan(1); // "ss" is not a plural
  const onlyFunctionWords = embedText('to be or not to be', 256, 1);
  expect(cosine(onlyFunctionWords, onlyFunctionWords)).toBeCloseTo(1, 5);
});
