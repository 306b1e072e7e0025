/**
 * The one run-id scheme, for the runs of a plan and for `llmops flow run` alike.
 * @module
 */
import { createHash } from 'node:crypto';

/**
 * `<experiment>.<variant>.<dataset>.<build or time>.<4 hex>`: short enough to read; the 4 hex digits are a hash
 * of everything else the run depends on (`salt`: environment, variant selection, data hash), so the same inputs
 * give the same id and different data under the same build a different one.
 */
export function readableRunId(
  experiment: string,
  variantId: string,
  dataset: string,
  when: string,
  salt: readonly string[] = [],
): string {
  const slug = (s: string) => s.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
  const variant =
    variantId === 'default'
      ? 'default'
      : variantId
          .split('+')
          .map((p) => p.split('.').pop())
          .join('+');
  const digest = createHash('sha256')
    .update(JSON.stringify([experiment, variantId, dataset, when, ...salt]))
    .digest('hex')
    .slice(0, 4);
  return [experiment, variant, dataset, when, digest].map(slug).join('.');
}

/** The current minute, as run ids without a build id carry it. */
export function runStamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 13);
}

/** Ids are unique within `used` and, with `taken`, against runs already in the store: `.2`, `.3`... appended. */
export function freeRunId(base: string, used: Set<string>, taken?: (id: string) => boolean): string {
  let id = base;
  for (let n = 2; used.has(id) || taken?.(id); n++) id = `${base}.${n}`;
  used.add(id);
  return id;
}
