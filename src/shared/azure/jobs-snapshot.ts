/**
 * The code snapshot of a cloud job: the use case folder (experiment files, flows, local data) plus the plan
 * the shards execute, uploaded once per content hash to the datastore under `LocalUpload/<hash>/<name>/`
 * (the Azure ML SDK's layout), so an unchanged snapshot is not uploaded again.
 * @module
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { blobNamesUnder, UPLOAD_ROOT, uploadFile, type DatastoreContainer } from './blob.js';

/** Where the plan lies inside the snapshot (the job's working directory). */
export const SNAPSHOT_PLAN = '_llmops/plan.json';
/** evaluate: the runs file and the standard runs' store the evaluations read. */
export const SNAPSHOT_RUNS_FILE = '_llmops/runs.json';
export const SNAPSHOT_STORE = '_llmops/store';

/** Folders never part of a snapshot: version control, dependencies, caches, any run store. */
const SKIPPED = new Set(['.git', 'node_modules', '__pycache__', '.venv', 'venv', '.llmops', '.pytest_cache']);

export interface SnapshotFile {
  /** Path inside the snapshot, with forward slashes. */
  name: string;
  file: string;
}

export interface Snapshot {
  files: SnapshotFile[];
  hash: string;
}

/** The files of `root` (minus `exclude`, e.g. the local store when it lies inside) and `extra` files. */
export function snapshotOf(root: string, extra: SnapshotFile[], exclude: string[] = []): Snapshot {
  const files: SnapshotFile[] = [];
  const skip = new Set(exclude.map((e) => path.resolve(e)));
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (SKIPPED.has(entry.name) || skip.has(full)) continue;
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) files.push({ name: path.relative(root, full).split(path.sep).join('/'), file: full });
    }
  };
  walk(root);
  files.push(...extra);
  const hash = createHash('sha256');
  for (const f of files) hash.update(`${f.name}\0`).update(readFileSync(f.file)).update('\0');
  return { files, hash: hash.digest('hex').slice(0, 32) };
}

/** Uploads what is not there yet; returns the blob folder of the snapshot and how many files were uploaded. */
export async function uploadSnapshot(
  store: DatastoreContainer,
  snapshot: Snapshot,
  name: string,
): Promise<{ prefix: string; uploaded: number }> {
  const prefix = `${UPLOAD_ROOT}/${snapshot.hash}/${name}`;
  const there = await blobNamesUnder(store, `${prefix}/`);
  let uploaded = 0;
  for (const f of snapshot.files) {
    const blob = `${prefix}/${f.name}`;
    if (there.has(blob)) continue;
    await uploadFile(store, blob, f.file, { snapshot: snapshot.hash });
    uploaded++;
  }
  return { prefix, uploaded };
}
