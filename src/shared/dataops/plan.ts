/**
 * The data pipeline of a use case as a plan: configs/dataops_config.json (already checked against its schema)
 * resolved to absolute places. EXECUTION_TYPE local: its containers are folders of the repository;
 * azure (the template's default): blob containers of STORAGE_ACCOUNT, signed in with the step's credential or
 * a SAS token read from a variable, and the compute, component and schedule of the Azure ML pipeline.
 * @module
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type Problem, type SourceLocation } from '../errors.js';
import { locate, readSource, type SourceFile } from '../source.js';

/** The script of DATA_PIPELINE_CODE_DIR that holds the transformation (the template's name). */
export const PIPELINE_SCRIPT = 'prep_data.py';

export interface DataAssetPlan {
  name: string;
  /** PATH of the entry: the asset's file inside the target. */
  path: string;
  description?: string;
}

/** Where the data lives with EXECUTION_TYPE azure: blob containers of one storage account. */
export interface BlobStoragePlan {
  account: string;
  sourceContainer: string;
  sourceBlob: string;
  /** Where SOURCE_BLOB is written, for a blob that turns out not to exist. */
  sourceBlobAt: SourceLocation;
  targetContainer: string;
  auth: 'credential' | 'sas';
  /** The variable holding the SAS token (auth sas), and its value when set. */
  sasVariable?: string;
  sasToken?: string;
}

export interface DataPipelinePlan {
  configFile: string;
  /** The folder of the transformation code (the Python worker's working directory) and its script. */
  codeDir: string;
  script: string;
  /** The source file and the target folder (local execution). */
  source: string;
  targetDir: string;
  /** Set with EXECUTION_TYPE azure: the source and target are blobs (source/targetDir are then unused). */
  storage?: BlobStoragePlan;
  assets: DataAssetPlan[];
  schedule?: { name: string; cron: string; timezone?: string };
  /** The Azure ML compute of the scheduled pipeline job (COMPUTE_NAME) and its component (DATA_PREP_COMPONENT). */
  compute?: string;
  component?: { name: string; displayName?: string; description?: string };
}

/** Reads a variable the way every step does (CI's environment, then .env); undefined when unset. */
export type VariableReader = (name: string) => string | undefined;

/** Set in the scheduled pipeline job: the storage is signed in to with the job's managed identity. */
export const STORAGE_AUTH_VARIABLE = 'LLMOPS_DATAOPS_STORAGE_AUTH';

/** The plan of the data pipeline of the use case whose base folder is given; a ConfigError when it cannot run. */
export function planDataPipeline(
  baseDir: string,
  repositoryRoot: string,
  display: (p: string) => string,
  variable: VariableReader = (name) => process.env[name],
): DataPipelinePlan {
  const configFile = path.join(baseDir, 'configs', 'dataops_config.json');
  if (!existsSync(configFile))
    throw ConfigError.at(
      { file: display(configFile) },
      'file not found: a data pipeline needs configs/dataops_config.json beside experiment.yaml',
    );
  const source = readSource(configFile, display(configFile));
  const config = source.value as DataopsConfig;
  const azure = config.EXECUTION_TYPE !== 'local';

  const problems: Problem[] = [];
  const inRepo = (p: readonly (string | number)[], value: string, kind: 'file' | 'folder'): string => {
    const abs = path.resolve(repositoryRoot, value);
    const found = existsSync(abs) && (kind === 'folder' ? statSync(abs).isDirectory() : statSync(abs).isFile());
    if (!found && (kind === 'file' || p[0] !== 'STORAGE' || p[1] !== 'TARGET_CONTAINER'))
      problems.push({
        ...locate(source, p),
        message: `${kind} not found: ${display(abs)} (${value} is relative to the repository root)`,
      });
    return abs;
  };
  const codeDirValue = config.PATH?.DATA_PIPELINE_CODE_DIR;
  if (!codeDirValue)
    problems.push({
      ...locate(source, []),
      message: 'PATH.DATA_PIPELINE_CODE_DIR is missing: expected the folder of the data preparation code',
    });
  const codeDir = codeDirValue ? inRepo(['PATH', 'DATA_PIPELINE_CODE_DIR'], codeDirValue, 'folder') : '';
  const script = path.join(codeDir, PIPELINE_SCRIPT);
  if (codeDir && existsSync(codeDir) && !existsSync(script))
    problems.push({
      ...locate(source, ['PATH', 'DATA_PIPELINE_CODE_DIR']),
      message: `${display(codeDir)} has no ${PIPELINE_SCRIPT}: expected the data preparation script (one @tool function)`,
    });
  const storage = config.STORAGE;
  const blobs = azure ? blobStorage(source, storage, variable, problems) : undefined;
  const sourceDir = azure ? '' : inRepo(['STORAGE', 'SOURCE_CONTAINER'], storage.SOURCE_CONTAINER, 'folder');
  const sourceFile = path.join(sourceDir, storage.SOURCE_BLOB);
  if (!azure && existsSync(sourceDir) && !existsSync(sourceFile))
    problems.push({
      ...locate(source, ['STORAGE', 'SOURCE_BLOB']),
      message: `file not found: ${display(sourceFile)} (SOURCE_BLOB inside SOURCE_CONTAINER)`,
    });
  // A blob container has no folder here: asset paths are still checked to stay inside it.
  const targetDir = azure
    ? path.resolve('/', storage.TARGET_CONTAINER)
    : inRepo(['STORAGE', 'TARGET_CONTAINER'], storage.TARGET_CONTAINER, 'folder');
  const seen = new Map<string, number>();
  config.DATA_ASSETS.forEach((a, i) => {
    const file = path.resolve(targetDir, a.PATH);
    if (path.relative(targetDir, file).startsWith('..') || path.isAbsolute(path.relative(targetDir, file)))
      problems.push({
        ...locate(source, ['DATA_ASSETS', i, 'PATH']),
        message: `${a.PATH} leaves TARGET_CONTAINER: expected a file inside it`,
      });
    for (const [key, what] of [
      [a.NAME, 'NAME'],
      [file, 'PATH'],
    ] as const) {
      const k = `${what}\0${key}`;
      if (seen.has(k))
        problems.push({
          ...locate(source, ['DATA_ASSETS', i, what]),
          message: `${what} ${JSON.stringify(what === 'NAME' ? a.NAME : a.PATH)} is already used by DATA_ASSETS[${seen.get(k)}]: expected each asset once`,
        });
      else seen.set(k, i);
    }
  });
  if (problems.length) throw new ConfigError(problems);
  const plan: DataPipelinePlan = {
    configFile,
    codeDir,
    script,
    source: sourceFile,
    targetDir,
    ...(blobs ? { storage: blobs } : {}),
    assets: config.DATA_ASSETS.map((a) => ({ name: a.NAME, path: a.PATH, description: a.DESCRIPTION })),
    ...(config.COMPUTE_NAME ? { compute: config.COMPUTE_NAME } : {}),
    ...(config.DATA_PREP_COMPONENT
      ? {
          component: {
            name: config.DATA_PREP_COMPONENT.COMPONENT_NAME,
            displayName: config.DATA_PREP_COMPONENT.COMPONENT_DISPLAY_NAME,
            description: config.DATA_PREP_COMPONENT.COMPONENT_DESCRIPTION,
          },
        }
      : {}),
  };
  if (config.SCHEDULE)
    plan.schedule = {
      name: config.SCHEDULE.NAME,
      cron: config.SCHEDULE.CRON_EXPRESSION,
      timezone: config.SCHEDULE.TIMEZONE,
    };
  return plan;
}

interface DataopsConfig {
  EXECUTION_TYPE?: 'local' | 'azure';
  COMPUTE_NAME?: string;
  DATA_PREP_COMPONENT?: { COMPONENT_NAME: string; COMPONENT_DISPLAY_NAME?: string; COMPONENT_DESCRIPTION?: string };
  STORAGE: {
    STORAGE_ACCOUNT?: string;
    SOURCE_CONTAINER: string;
    SOURCE_BLOB: string;
    TARGET_CONTAINER: string;
    AUTH?: 'credential' | 'sas';
    SAS_TOKEN?: string;
  };
  PATH?: { DATA_PIPELINE_CODE_DIR: string };
  SCHEDULE?: { NAME: string; CRON_EXPRESSION: string; TIMEZONE?: string };
  DATA_ASSETS: { NAME: string; PATH: string; DESCRIPTION?: string }[];
}

/**
 * The blob side of EXECUTION_TYPE azure. Container and blob names follow the storage rules; a SAS token only as
 * a ${VARIABLE} placeholder (the schema) whose variable must be set, unless the scheduled job signs in with its
 * own identity (STORAGE_AUTH_VARIABLE).
 */
function blobStorage(
  source: SourceFile,
  storage: DataopsConfig['STORAGE'],
  variable: VariableReader,
  problems: Problem[],
): BlobStoragePlan {
  const at = (key: string) => locate(source, ['STORAGE', key]);
  for (const key of ['SOURCE_CONTAINER', 'TARGET_CONTAINER'] as const)
    if (!/^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(storage[key]))
      problems.push({
        ...at(key),
        message: `${key}: found ${JSON.stringify(storage[key])}, expected a blob container name (3-63 lower-case letters, digits and single hyphens) with EXECUTION_TYPE azure`,
      });
  const plan: BlobStoragePlan = {
    account: storage.STORAGE_ACCOUNT ?? '',
    sourceContainer: storage.SOURCE_CONTAINER,
    sourceBlob: storage.SOURCE_BLOB.replace(/^\/+/, ''),
    sourceBlobAt: at('SOURCE_BLOB'),
    targetContainer: storage.TARGET_CONTAINER,
    auth: variable(STORAGE_AUTH_VARIABLE) === 'credential' ? 'credential' : (storage.AUTH ?? 'credential'),
  };
  if (plan.auth !== 'sas') return plan;
  const name = /^\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(storage.SAS_TOKEN ?? '')?.[1];
  if (!name) {
    problems.push({
      ...locate(source, storage.AUTH ? ['STORAGE', 'AUTH'] : ['STORAGE']),
      message:
        'AUTH "sas" needs SAS_TOKEN: expected "SAS_TOKEN": "${VARIABLE}" naming the variable that holds the token',
    });
    return plan;
  }
  plan.sasVariable = name;
  plan.sasToken = variable(name);
  if (!plan.sasToken)
    problems.push({
      ...at('SAS_TOKEN'),
      message: `SAS_TOKEN: environment variable ${name} is not set; set it as a CI secret or in .env at the repository root`,
    });
  return plan;
}
