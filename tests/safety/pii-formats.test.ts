/**
 * Formats the redaction library misses or over-matches, covered by our supplement patterns on the same
 * redactor: phone numbers as people write them, national identifiers without a keyword, street addresses in
 * English and continental order; and the ordinary numbers (ids, dates, versions, amounts) that must stay.
 */
import { countByKind, createRedactor, type PiiKind } from '../../src/shared/safety/redactor.js';

const found: Array<[string, PiiKind, string]> = [
  ['Call me on +44 20 7946 0958 tomorrow.', 'phone', '+44 20 7946 0958'],
  ['Our desk: (555) 010-0199, weekdays.', 'phone', '(555) 010-0199'],
  ['Berlin office +49 30 901820 is open.', 'phone', '+49 30 901820'],
  ['Paris: +33 1 42 68 53 00.', 'phone', '+33 1 42 68 53 00'],
  ['Mobile +91 98765 43210 only.', 'phone', '+91 98765 43210'],
  ['Tel +1 (415) 555-2671 ext', 'phone', '+1 (415) 555-2671'],
  ['or 415.555.2671 after six', 'phone', '415.555.2671'],
  ['ring 555-010-0199 now', 'phone', '555-010-0199'],
  ['landline 020 7946 0958', 'phone', '020 7946 0958'],
  ['Ruf 0049 30 901820 an', 'phone', '0049 30 901820'],
  ['tel. 01 42 68 53 00 le matin', 'phone', '01 42 68 53 00'],
  ['portable 06.12.34.56.78', 'phone', '06.12.34.56.78'],
  ['my number is 123-45-6789, keep it safe', 'national_id', '123-45-6789'],
  ['NI number AB123456C on file', 'national_id', 'AB123456C'],
  ['She lives at 221B Baker Street, London.', 'address', '221B Baker Street'],
  ['Visit 1 Infinite Loop, Cupertino.', 'address', '1 Infinite Loop'],
  ['Send it to Hauptstraße 5, 10115 Berlin please', 'address', 'Hauptstraße 5, 10115 Berlin'],
  ['Livrer au 12 rue de Rivoli demain', 'address', '12 rue de Rivoli'],
];

test.each(found)('%s → %s found whole and redacted', async (text, kind, value) => {
  const r = createRedactor();
  const findings = await r.findings(text);
  expect(findings.map((f) => [f.kind, text.slice(f.start, f.end)])).toEqual([[kind, value]]);
  const redacted = await r.redact(text);
  expect(redacted).not.toContain(value);
  // Nothing but the value is touched: the text around it stays.
  const [before, after] = text.split(value);
  expect(redacted.startsWith(before) && redacted.endsWith(after)).toBe(true);
});

const ordinary = [
  'order 12345678 shipped on 2024-03-15 at 10:30',
  'order id ORD-2024-000123 was refunded',
  'ISBN 978-3-16-148410-0, second edition',
  'version 1.2.3456 released; see v10.0.19041.1415',
  'build 20240315.1 passed, dated 15/03/2024',
  'we sold 1,234,567 units in 2023 for $12,345.67',
  'timestamp 1702000000, port 8080 and 443',
  'uuid 123e4567-e89b-12d3-a456-426614174000',
  'tracking 1Z999AA10123456784',
  'The meeting is at 3 pm in room 4012, 12 people, floor 3',
  'he walked 5 miles down the street',
  'Chapter 12 Street Fighter review',
  'pi is 3.14159265358979 and e is 2.718281828',
  'SSN 666-12-3456 is not a valid number', // area 666 is never issued
  'NINO QQ123456C is the documented dummy',
  'score rose +3.2 points to 78.5',
  'the years 1999-2004 and 2010-2015, pages 120-135',
  'invoice #2024-0042-17 and sku 123-456-7890-X',
  'released 01.02.2024, build 1.2.3',
];

test.each(ordinary)('no PII in: %s', async (text) => {
  const r = createRedactor();
  expect(await r.findings(text)).toEqual([]);
  expect(await r.redact(text)).toBe(text);
});

test('the supplements follow the configured kinds: phones only when phone is configured', async () => {
  const text = 'Call +44 20 7946 0958 or write to 221B Baker Street; SSN 123-45-6789.';
  expect(countByKind(await createRedactor(['phone']).findings(text))).toEqual({ phone: 1 });
  expect(countByKind(await createRedactor(['address', 'national_id']).findings(text))).toEqual({
    address: 1,
    national_id: 1,
  });
  expect(await createRedactor(['email']).redact(text)).toBe(text);
});

test("the redactor's own placeholders for the new formats still count as findings", async () => {
  const r = createRedactor();
  const redacted = await r.redact('Call (555) 010-0199 at Hauptstraße 5; NI AB123456C.');
  expect(countByKind(await r.findings(redacted))).toEqual({ phone: 1, address: 1, national_id: 1 });
});
