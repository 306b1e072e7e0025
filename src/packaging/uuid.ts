/** Name-based (version 5, SHA-1) UUIDs, RFC 9562 §5.5: the same name always gives the same id. */
import { createHash } from 'node:crypto';

/** Namespace of llmops' generated ids. Never change it: Azure DevOps identifies a task by its id. */
export const LLMOPS_NAMESPACE = '6f1d9a52-3c47-4b8e-9d2a-7e51c0b4f3a8';

export function uuidV5(name: string, namespace = LLMOPS_NAMESPACE): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
