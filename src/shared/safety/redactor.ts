/**
 * The one redactor: personal data found and replaced the same way everywhere it is applied (evaluator findings,
 * run store, reports, request logs, telemetry content). Detection is @openredaction/core's maintained patterns
 * and validators (Luhn for cards, mod-97 for IBANs, national-identifier checks); this module only chooses which
 * of its patterns a configured PII kind means, and never reports a found value — findings carry the kind, the
 * library's pattern type and the position, so they can be stored without leaking what they point at.
 */
import type { OpenRedaction } from '@openredaction/core';
import { ConfigError } from '../errors.js';
import { ALL_PII_KINDS, PII_KINDS, type PiiKind } from './pii-kinds.js';
import { supplementPatterns } from './pii-patterns.js';

export { PII_KINDS, ALL_PII_KINDS, type PiiKind } from './pii-kinds.js';

export interface PiiFinding {
  kind: PiiKind;
  /** The library's pattern that matched (e.g. PHONE_UK), for the curious; never the value. */
  type: string;
  start: number;
  end: number;
}

export interface Redactor {
  readonly kinds: readonly PiiKind[];
  /** The text with every finding replaced by a placeholder naming its type (e.g. `[EMAIL_1312]`). */
  redact(text: string): Promise<string>;
  findings(text: string): Promise<PiiFinding[]>;
  /** A JSON value with every string in it redacted (keys are left alone: they are the flow's names). */
  redactValue<T>(value: T): Promise<T>;
}

/** Names not in PII_KINDS, for a config error naming what was found and what is expected. */
export function unknownPiiKinds(kinds: readonly string[]): string[] {
  return kinds.filter((k) => !(k in PII_KINDS));
}

export function createRedactor(kinds: readonly PiiKind[] = ALL_PII_KINDS): Redactor {
  const unknown = unknownPiiKinds(kinds);
  if (unknown.length)
    throw new Error(`unknown PII kind ${unknown.join(', ')}, expected one of: ${ALL_PII_KINDS.join(', ')}`);
  const kindOf = new Map<string, PiiKind>();
  for (const kind of kinds) for (const type of PII_KINDS[kind]) kindOf.set(type, kind);
  // Loaded on first use: the library's hundreds of patterns cost start-up time a run without redaction never pays.
  // Names are left out: the library finds them by capitalisation, which flags ordinary prose.
  let loading: Promise<OpenRedaction> | undefined;
  const detector = () =>
    (loading ??= import('@openredaction/core').then((m) => {
      // Our supplements (new formats, stricter versions of over-matching library patterns) take the place of
      // the library's pattern of the same type.
      const extra = [groupedIban(m.validateIBAN), ...supplementPatterns(m)].filter((p) => kindOf.has(p.type));
      const ours = new Set(extra.map((p) => p.type));
      return new m.OpenRedaction({
        patterns: [...kindOf.keys()].filter((t) => !ours.has(t)),
        customPatterns: extra,
        includeNames: false,
        enableContextAnalysis: false,
        // Its false-positive rules look for words such as "on", "after" or "v" anywhere near a phone number
        // (even inside "only" or "visit"), so "call me on +44 20 7946 0958" was dropped as a date; our
        // supplements tell ids, dates and versions from phone numbers by their shape instead.
        enableFalsePositiveFilter: false,
      });
    }));
  // An empty or digit-and-letter-free string holds no PII: skip the detector's per-call cost.
  const worthScanning = (text: string) => /[\p{L}\p{N}]/u.test(text) && kinds.length > 0;

  const redact = async (text: string) =>
    worthScanning(text) ? (await (await detector()).detect(text)).redacted : text;
  const findings = async (text: string): Promise<PiiFinding[]> => {
    if (!worthScanning(text)) return [];
    const d = await detector();
    const found: PiiFinding[] = (await d.detect(text)).detections
      .filter((x) => kindOf.has(x.type))
      .map((x) => ({ kind: kindOf.get(x.type)!, type: x.type, start: x.position[0], end: x.position[1] }));
    // Text this redactor already redacted (a run store with redaction on) still holds the PII it stood for.
    const byPrefix = (placeholders ??= placeholderKinds(d, kindOf));
    for (const m of text.matchAll(/\[([A-Z][A-Z0-9_]*?)_\d+\]/g)) {
      const hit = byPrefix.get(m[1]);
      if (hit) found.push({ kind: hit.kind, type: hit.type, start: m.index, end: m.index + m[0].length });
    }
    return found.sort((a, b) => a.start - b.start);
  };
  let placeholders: Map<string, { kind: PiiKind; type: string }> | undefined;
  const redactValue = async <T>(value: T): Promise<T> => {
    if (typeof value === 'string') return (await redact(value)) as T;
    if (Array.isArray(value)) return (await Promise.all(value.map(redactValue))) as T;
    if (value && typeof value === 'object') {
      const entries = await Promise.all(
        Object.entries(value as Record<string, unknown>).map(async ([k, v]) => [k, await redactValue(v)] as const),
      );
      return Object.fromEntries(entries) as T;
    }
    return value;
  };
  return { kinds: [...kinds], redact, findings, redactValue };
}

const shared = new Map<string, Redactor>();

/**
 * The process's one redactor of these kinds (created on first use), for every place a use case's redaction block
 * applies: its patterns load once and every place writes the same placeholders.
 */
export function sharedRedactor(kinds: readonly PiiKind[]): Redactor {
  const key = [...new Set(kinds)].sort().join(',');
  let redactor = shared.get(key);
  if (!redactor) shared.set(key, (redactor = createRedactor(kinds)));
  return redactor;
}

/** Findings counted by kind: `{ email: 2, phone: 1 }`. */
export function countByKind(findings: readonly PiiFinding[]): Partial<Record<PiiKind, number>> {
  const counts: Partial<Record<PiiKind, number>> = {};
  for (const f of findings) counts[f.kind] = (counts[f.kind] ?? 0) + 1;
  return counts;
}

/** A configured kinds list, checked: every entry one of the known PII kinds. */
export function piiKinds(kinds: unknown, where: string): PiiKind[] {
  if (kinds === undefined || kinds === null) return ALL_PII_KINDS;
  const list = Array.isArray(kinds) ? kinds : [kinds];
  const bad = list.filter((k) => typeof k !== 'string');
  const unknown = unknownPiiKinds(list.filter((k): k is string => typeof k === 'string'));
  if (bad.length || unknown.length || list.length === 0)
    throw ConfigError.at(
      { file: where },
      `found ${JSON.stringify(kinds)}, expected a list of PII kinds from: ${ALL_PII_KINDS.join(', ')}`,
    );
  return list as PiiKind[];
}

/** Placeholder prefixes of the configured patterns (`[PHONE_UK_{n}]` → PHONE_UK) → their kind and type. */
function placeholderKinds(
  detector: OpenRedaction,
  kindOf: Map<string, PiiKind>,
): Map<string, { kind: PiiKind; type: string }> {
  const out = new Map<string, { kind: PiiKind; type: string }>();
  for (const p of detector.getPatterns()) {
    const kind = kindOf.get(p.type);
    const prefix = /^\[([A-Z][A-Z0-9_]*?)_\{n\}\]$/.exec(p.placeholder)?.[1];
    if (kind && prefix) out.set(prefix, { kind, type: p.type });
  }
  return out;
}

/** What a line record holds of the user's data: inputs, outputs, the error, aggregation inputs. */
interface RecordWithText {
  inputs: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  error?: object;
  aggregation_inputs?: Record<string, unknown>;
}

/** A run store record rewriter: every text of the user's data in the record redacted. */
export function recordRedactor(kinds: readonly PiiKind[]): <R extends RecordWithText>(record: R) => Promise<R> {
  const redactor = sharedRedactor(kinds);
  return async (record) => {
    const out = { ...record, inputs: await redactor.redactValue(record.inputs) };
    if (record.outputs) out.outputs = await redactor.redactValue(record.outputs);
    if (record.aggregation_inputs) out.aggregation_inputs = await redactor.redactValue(record.aggregation_inputs);
    // The whole error: besides its message, its details (inner errors, the user code's traceback) quote the data.
    if (record.error) out.error = await redactor.redactValue(record.error);
    return out;
  };
}

/**
 * IBANs written in groups of four, found by their letters' case. The library's IBAN pattern matches without
 * regard to case, so a following word ("... 7654 32 please") is taken into the match, fails the checksum and the
 * IBAN is missed; this pattern only adds that case, and the library's own mod-97 check decides.
 */
function groupedIban(validate: (iban: string) => boolean) {
  return {
    type: 'IBAN_GROUPED',
    regex: /\b[A-Z]{2}\d{2}(?:[ \u00A0]?[A-Z0-9]{4}){2,7}(?:[ \u00A0]?[A-Z0-9]{1,3})?\b/g,
    priority: 96,
    placeholder: '[IBAN_{n}]',
    severity: 'high' as const,
    validator: (match: string) => validate(match.replace(/[\s\u00A0]/g, '')),
  };
}
