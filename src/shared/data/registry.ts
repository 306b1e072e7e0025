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
}

export interface DataRegistry {
  /** Register a dataset's content; returns the existing version when the hash is unchanged. */
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
    const last = versions[versions.length - 1];
    if (last && last.hash === entry.hash) return { ...last, created: false };
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
    return versions?.[versions.length - 1];
  }

  private read(): RegistryFile {
    if (!existsSync(this.file)) return { datasets: {} };
    return JSON.parse(readFileSync(this.file, 'utf8')) as RegistryFile;
  }
}
