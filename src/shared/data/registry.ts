/**
 * The data registry: datasets versioned by content hash, like the seed template's hash-gated
 * registration (a new version only when the content changed). The local registry is one JSON
 * file in the run store; an Azure ML data-asset registry implements the same interface.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeJsonAtomic } from '../files.js';

export interface DatasetVersion {
  name: string;
  version: string;
  /** sha256 of the file content. */
  hash: string;
  rows: number;
  source: string;
  description?: string;
  registeredAt: string;
  /** When this earlier version's content was registered again (it is the name's latest since). */
  reusedAt?: string;
}

export interface DataRegistry {
  /** Register a dataset's content; returns the existing version holding that content (hash), if any. */
  register(entry: Omit<DatasetVersion, 'version' | 'registeredAt'>): Promise<DatasetVersion & { created: boolean }>;
  latest(name: string): Promise<DatasetVersion | undefined>;
}

interface RegistryFile {
  datasets: Record<string, DatasetVersion[]>;
}

export class LocalDataRegistry implements DataRegistry {
  readonly file: string;

  constructor(storeRoot: string) {
    this.file = path.join(storeRoot, 'data', 'registry.json');
  }

  async register(
    entry: Omit<DatasetVersion, 'version' | 'registeredAt'>,
  ): Promise<DatasetVersion & { created: boolean }> {
    const registry = this.read();
    const versions = (registry.datasets[entry.name] ??= []);
    const last = latestOf(versions);
    if (last && last.hash === entry.hash) return { ...last, created: false };
    // Content seen before under this name (data put back, or one name given to two files as the template's
    // class_flows does) keeps its version: a new version only for new content, never one per run.
    const earlier = versions.find((v) => v.hash === entry.hash);
    if (earlier) {
      earlier.reusedAt = new Date().toISOString();
      writeJsonAtomic(this.file, registry);
      return { ...earlier, created: false };
    }
    const created: DatasetVersion = {
      ...entry,
      version: String(versions.length + 1),
      registeredAt: new Date().toISOString(),
    };
    versions.push(created);
    writeJsonAtomic(this.file, registry);
    return { ...created, created: true };
  }

  async latest(name: string): Promise<DatasetVersion | undefined> {
    const versions = this.read().datasets[name];
    return versions ? latestOf(versions) : undefined;
  }

  /** The version holding this content, if it was ever registered under the name. */
  async withHash(name: string, hash: string): Promise<DatasetVersion | undefined> {
    return this.read().datasets[name]?.find((v) => v.hash === hash);
  }

  private read(): RegistryFile {
    if (!existsSync(this.file)) return { datasets: {} };
    return JSON.parse(readFileSync(this.file, 'utf8')) as RegistryFile;
  }
}

/** The version registered (or registered again) last. */
function latestOf(versions: DatasetVersion[]): DatasetVersion | undefined {
  let latest: DatasetVersion | undefined;
  for (const v of versions)
    if (!latest || (v.reusedAt ?? v.registeredAt) >= (latest.reusedAt ?? latest.registeredAt)) latest = v;
  return latest;
}
