/**
 * The one redactor: each configured kind found and replaced, nothing else touched, findings without values,
 * and validators doing their job (a card number failing Luhn is not a card).
 */
import { ALL_PII_KINDS, countByKind, createRedactor, unknownPiiKinds } from '../../src/shared/safety/redactor.js';

const seeded = {
  email: 'jane.roe@contoso.org',
  phone: '+44 20 7946 0958',
  payment_card: '4111 1111 1111 1111',
  iban: 'GB82 WEST 1234 5698 7654 32',
  national_id: '123-45-6789',
};

const sentence = `Write to ${seeded.email}, call ${seeded.phone}, card ${seeded.payment_card}, IBAN ${seeded.iban}, SSN ${seeded.national_id}.`;

test('every seeded kind is found and redacted; the rest of the text is kept', async () => {
  const r = createRedactor();
  const redacted = await r.redact(sentence);
  for (const value of Object.values(seeded)) expect(redacted).not.toContain(value);
  expect(redacted).toMatch(/^Write to \[EMAIL_\w+\], call /);
  const found = await r.findings(sentence);
  expect(countByKind(found)).toEqual({ email: 1, phone: 1, payment_card: 1, iban: 1, national_id: 1 });
  // A finding says where and what kind, never the value.
  for (const f of found) expect(JSON.stringify(f)).not.toContain(sentence.slice(f.start, f.end));
  expect(sentence.slice(found[0].start, found[0].end)).toBe(seeded.email);
});

test('only the configured kinds are redacted', async () => {
  const r = createRedactor(['email']);
  const redacted = await r.redact(sentence);
  expect(redacted).not.toContain(seeded.email);
  expect(redacted).toContain(seeded.payment_card);
  expect(redacted).toContain(seeded.national_id);
});

test('validators: a card number failing Luhn and plain prose are not PII', async () => {
  const r = createRedactor();
  expect(await r.findings('card 4111 1111 1111 1112 was declined')).toEqual([]);
  const prose = 'The Eiffel Tower is 330 metres tall. Paris is the capital of France; it hosted the 2024 Olympics.';
  expect(await r.findings(prose)).toEqual([]);
  expect(await r.redact(prose)).toBe(prose);
  expect(await r.redact('')).toBe('');
});

test('a JSON value is redacted string by string, keys and non-strings kept', async () => {
  const r = createRedactor();
  const value = { answer: `mail ${seeded.email}`, nested: [{ card: seeded.payment_card }], score: 3, ok: true };
  const out = await r.redactValue(value);
  expect(JSON.stringify(out)).not.toContain(seeded.email);
  expect(JSON.stringify(out)).not.toContain(seeded.payment_card);
  expect(out.score).toBe(3);
  expect(out.ok).toBe(true);
  expect(Object.keys(out.nested[0])).toEqual(['card']);
});

test('unknown kinds are named', () => {
  expect(unknownPiiKinds(['email', 'shoe_size'])).toEqual(['shoe_size']);
  expect(() => createRedactor(['shoe_size' as never])).toThrow(/unknown PII kind shoe_size, expected one of: email/);
  expect(ALL_PII_KINDS).toEqual(expect.arrayContaining(['email', 'phone', 'payment_card', 'iban', 'national_id']));
});

test('text the redactor already redacted still counts: its placeholders are findings of their kind', async () => {
  const r = createRedactor();
  const redacted = await r.redact(sentence);
  expect(countByKind(await r.findings(redacted))).toEqual({
    email: 1,
    phone: 1,
    payment_card: 1,
    iban: 1,
    national_id: 1,
  });
  expect(await r.findings('see [FOOTNOTE_12] and [X_1]')).toEqual([]);
  expect(await createRedactor(['email']).findings(redacted)).toEqual([expect.objectContaining({ kind: 'email' })]);
});

test('an IBAN followed by a word is still found (the grouped-IBAN supplement); a wrong checksum is not', async () => {
  const r = createRedactor(['iban']);
  expect(await r.redact(`Pay into IBAN ${seeded.iban} please.`)).toMatch(/^Pay into IBAN \[IBAN_\d+\] please\.$/);
  expect(await r.findings('GB82 WEST 1234 5698 7654 33 is wrong')).toEqual([]);
});
