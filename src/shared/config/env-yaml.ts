/**
 * `environment/env.yaml` (seed template §2.7): flat KEY: value pairs exported to every run and
 * deployment. Keys are upper-cased; a variable CI already set wins; `${REF}` reads the
 * environment (and is masked); an empty value is an error.
 */
import type { Problem } from '../errors.js';
import { describeValue, locate, type SourceFile } from '../source.js';
import { type Environment, placeholderName } from './environment.js';

export function resolveEnvYaml(
  source: SourceFile,
  env: Environment,
  problems: Problem[],
  secrets: Set<string>,
): Record<string, string> {
  const out: Record<string, string> = {};
  const value = source.value;
  if (value === undefined || value === null) return out;
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push({
      ...locate(source, []),
      message: `found ${describeValue(value)}, expected a mapping of VARIABLE: value`,
    });
    return out;
  }
  for (const [rawKey, raw] of Object.entries(value as Record<string, unknown>)) {
    const key = rawKey.toUpperCase();
    const at = locate(source, [rawKey]);
    const already = env.get(key);
    if (already !== undefined) {
      // CI's own value wins. It is not masked here: CI systems mask their secrets themselves, and
      // masking every inherited value would garble logs (and file names) with ordinary words.
      out[key] = already;
      continue;
    }
    if (raw !== null && typeof raw === 'object') {
      problems.push({
        ...at,
        message: `${rawKey}: found ${describeValue(raw)}, expected a text, number or \${VARIABLE}`,
      });
      continue;
    }
    const ref = placeholderName(raw);
    if (ref !== undefined) {
      const resolved = env.get(ref);
      if (resolved === undefined || resolved === '') {
        if (env.unset?.(ref)) continue;
        problems.push({
          ...at,
          message: `${rawKey}: environment variable ${ref} is ${resolved === '' ? 'empty' : 'not set'} (needed for the placeholder \${${ref}})`,
        });
        continue;
      }
      out[key] = resolved;
      secrets.add(resolved);
      continue;
    }
    if (raw === null || raw === undefined || String(raw) === '') {
      problems.push({
        ...locate(source, [rawKey], 'key'),
        message: `${rawKey}: found an empty value, expected a value or \${VARIABLE}`,
      });
      continue;
    }
    out[key] = String(raw);
  }
  return out;
}
