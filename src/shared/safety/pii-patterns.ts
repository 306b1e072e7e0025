/**
 * Formats @openredaction/core misses or over-matches, as extra patterns on the same detector. Measured against
 * the library (1.1.5): its international phone pattern starts with `\b\+`, which never matches after a space, so
 * `+44 20 7946 0958` or `+49 30 901820` is found only in part or not at all; `(555) 010-0199` loses its bracket;
 * its UK pattern takes any run of 8 to 11 digits (order ids, ISBN groups, the tail of `ORD-2024-000123`); an SSN
 * or a UK National Insurance number is found only after a keyword; its US pattern takes ten bare digits (a Unix
 * timestamp); its street pattern ignores case (so "5 miles
 * down the street" is an address) and knows neither `221B` nor continental addresses (`Hauptstraße 5`); numbers
 * dialled with 00 (`0049 30 901820`) or written in French pairs (`01 42 68 53 00`) are not found at all.
 *
 * Each pattern here either is new (its own type) or replaces a library pattern of the same type with a stricter
 * one (the library's regex kept, with the guards below); validators stay the library's where it has one.
 * @module
 */
import type { validateNINO, validateSSN } from '@openredaction/core';

/** The shape the library takes as a custom pattern. */
export interface SupplementPattern {
  type: string;
  regex: RegExp;
  priority: number;
  placeholder: string;
  severity: 'critical' | 'high' | 'medium' | 'low';
  validator?: (match: string, context: string) => boolean;
}

interface LibraryPattern {
  type: string;
  regex: RegExp;
  priority?: number;
  placeholder: string;
  severity?: SupplementPattern['severity'];
  validator?: (match: string, context: string) => boolean;
}

/** What the redactor needs of the library to build the supplements. */
export interface LibraryParts {
  allPatterns: readonly LibraryPattern[];
  validateSSN: typeof validateSSN;
  validateNINO: typeof validateNINO;
}

// A number that is part of a longer token is not a phone number or an identifier: not after a letter, digit,
// hyphen or plus sign, and not before one (nor before `.5`, `,5` or `/5`, as in a version, an amount or a date).
const NOT_AFTER = String.raw`(?<![\p{L}\p{N}_+\-/.])`;
const NOT_BEFORE = String.raw`(?![\p{L}\p{N}_\-/]|[.,]\p{N})`;
const standalone = (source: string) => new RegExp(`${NOT_AFTER}(?:${source})${NOT_BEFORE}`, 'gu');
const digitCount = (s: string) => s.replace(/\D/g, '').length;

const STREET_TYPES =
  'Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Court|Ct|Boulevard|Blvd|Way|Terrace|Place|Pl|Trail|Parkway|Pkwy|' +
  'Highway|Hwy|Loop|Close|Crescent|Square|Sq|Row|Gardens|Circle|Cir|Mews|Walk|Grove|Hill';

export function supplementPatterns(lib: LibraryParts): SupplementPattern[] {
  const library = (type: string) => {
    const p = lib.allPatterns.find((x) => x.type === type);
    if (!p) throw new Error(`@openredaction/core has no pattern ${type}`);
    return p;
  };
  const ukPhone = library('PHONE_UK');
  const aadhaar = library('INDIAN_AADHAAR');
  return [
    // A UK number is written with its trunk 0 or the country code; without either it is just a number.
    {
      type: 'PHONE_UK',
      regex: standalone(ukPhone.regex.source),
      priority: ukPhone.priority ?? 85,
      placeholder: ukPhone.placeholder,
      severity: ukPhone.severity ?? 'medium',
      validator: (match, context) =>
        /^\(?(?:\+?44|0)/.test(match.trim()) && (ukPhone.validator?.(match, context) ?? true),
    },
    {
      type: 'INDIAN_AADHAAR',
      regex: standalone(aadhaar.regex.source),
      priority: aadhaar.priority ?? 95,
      placeholder: aadhaar.placeholder,
      severity: aadhaar.severity ?? 'high',
      validator: aadhaar.validator,
    },
    // +<country code> (or 00 and a separator, as dialled in Europe) then groups: E.164 allows at most 15 digits;
    // fewer than 8 is no full number.
    {
      type: 'PHONE_INTL_GROUPED',
      regex: standalone(
        String.raw`(?:\+[1-9]\d{0,2}|00[1-9]\d{0,2}(?=[ \u00A0.-]))(?:[ \u00A0.-]?(?:\(\d{1,4}\)|\d{1,5})){1,6}`,
      ),
      priority: 90,
      placeholder: '[PHONE_{n}]',
      severity: 'medium',
      validator: (match) => digitCount(match) >= 8 && digitCount(match) <= 15,
    },
    // North American layout: (555) 010-0199, 555-010-0199, 555.010.0199, +1 415 555 2671. Separators required
    // (the library's takes ten bare digits, as often an id or a timestamp), and no area-code rules: fictional
    // 555 numbers are still written to look like someone's number.
    {
      type: 'PHONE_US',
      regex: new RegExp(
        String.raw`(?<![\p{L}\p{N}_+\-/.(])(?:\+?1[ \u00A0.-]?)?(?:\(\d{3}\)[ \u00A0]?|\d{3}[ \u00A0.-])\d{3}[ \u00A0.-]\d{4}` +
          NOT_BEFORE,
        'gu',
      ),
      priority: 91,
      placeholder: '[PHONE_US_{n}]',
      severity: 'medium',
    },
    // The French national layout: ten digits in pairs from 0X (01 42 68 53 00, 06.12.34.56.78), one separator.
    {
      type: 'PHONE_FR',
      // No capture group: the library takes a pattern's first group as the value it found.
      regex: standalone(String.raw`0[1-9](?:(?: \d{2}){4}|(?:\.\d{2}){4}|(?:-\d{2}){4}|(?:\u00A0\d{2}){4})`),
      priority: 89,
      placeholder: '[PHONE_{n}]',
      severity: 'medium',
    },
    // The US SSN in its written form (3-2-4 with hyphens) is distinctive without a keyword; the library's SSN
    // rules (no area 000, 666 or 9xx, no group 00, no serial 0000) decide.
    {
      type: 'SSN_FORMATTED',
      regex: standalone(String.raw`\d{3}-\d{2}-\d{4}`),
      priority: 99,
      placeholder: '[SSN_{n}]',
      severity: 'high',
      validator: (match) => lib.validateSSN(match, ''),
    },
    // A UK National Insurance number without a keyword: two allowed prefix letters, six digits, suffix A-D.
    {
      type: 'NINO_STANDALONE',
      regex: standalone(String.raw`[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z](?:[ \u00A0]?\d{2}){3}[ \u00A0]?[A-D]`),
      priority: 99,
      placeholder: '[NINO_{n}]',
      severity: 'high',
      validator: (match) => lib.validateNINO(match, ''),
    },
    // House number (with a letter: 221B), capitalised name words, a street type: case matters, so prose about
    // "the street" is not an address.
    {
      type: 'ADDRESS_STREET',
      regex: new RegExp(
        String.raw`(?<![\p{L}\p{N}_\-/.])\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][\p{L}'’.-]*\s+){1,4}(?:${STREET_TYPES})\b\.?` +
          String.raw`(?:\s+(?:Apt|Unit|Suite|Ste)\.?\s*\d+)?`,
        'gu',
      ),
      priority: 70,
      placeholder: '[ADDRESS_{n}]',
      severity: 'medium',
    },
    // Continental addresses: German, Dutch and Nordic write the street then the number (Hauptstraße 5,
    // Keizersgracht 123), French the number then a lower-case street type (12 rue de Rivoli); a postcode and
    // town may follow.
    {
      type: 'ADDRESS_CONTINENTAL',
      regex: new RegExp(
        String.raw`(?<![\p{L}\p{N}_])(?:[A-ZÄÖÜ][\p{Ll}]+(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|gracht|straat|laan|plein|gade|vej|gatan|vägen)\s+\d{1,4}[a-z]?` +
          String.raw`|\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|boulevard|place|chemin|allée|impasse|quai)\s+(?:(?:de|du|des|la|le|l'|d')\s*)*[A-Z][\p{L}'’-]+)` +
          String.raw`(?:,\s*\d{4,5}\s+[A-Z][\p{L}-]+)?` +
          NOT_BEFORE,
        'gu',
      ),
      priority: 70,
      placeholder: '[ADDRESS_{n}]',
      severity: 'medium',
    },
  ];
}
