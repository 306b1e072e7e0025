/**
 * The data pipeline of a use case as a plan: configs/dataops_config.json (already checked against its schema)
 * resolved to absolute places. Only EXECUTION_TYPE local runs today: its containers are folders of the
 * repository. The azure settings (blob containers, Azure ML data assets, the pipeline and its schedule) are
 * refused here with what to do instead, until the Azure ML client lands; they plug in as another
 * DataSource/DataTarget/DataRegistry (see pipeline.ts) chosen from this plan.
 * @module
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type Problem } from '../errors.js';
import { locate, readSource, type SourceFile } from '../source.js';

/** The script of DATA_PIPELINE_CODE_DIR that holds the transformation (the template's name). */
export const PIPELINE_SCRIPT = 'prep_data.py';

export interface DataAssetPlan {
  name: string;
  /** PATH of the entry: the asset's file inside the target. */
  path: string;
  description?: string;
}

export interface DataPipelinePlan {
  configFile: string;
  /** The folder of the transformation code (the Python worker's working directory) and its script. */
  codeDir: string;
  script: string;
  /** The source file and the target folder (local execution). */
  source: string;
  targetDir: string;
  assets: DataAssetPlan[];
  schedule?: { name: string; cron: string; timezone?: string };
}

/** The plan of the data pipeline of the use case whose base folder is given; a ConfigError when it cannot run. */
export function planDataPipeline(baseDir: string, repositoryRoot: string, display: (p: string) => string) {
  const configFile = path.join(baseDir, 'configs', 'dataops_config.json');
  if (!existsSync(configFile))
    throw ConfigError.at(
      { file: display(configFile) },
      'file not found: a data pipeline needs configs/dataops_config.json beside experiment.yaml',
    );
  const source = readSource(configFile, display(configFile));
  const config = source.value as DataopsConfig;
  if (config.EXECUTION_TYPE !== 'local') throw azureNotYet(source, config);

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
  const sourceDir = inRepo(['STORAGE', 'SOURCE_CONTAINER'], storage.SOURCE_CONTAINER, 'folder');
  const sourceFile = path.join(sourceDir, storage.SOURCE_BLOB);
  if (existsSync(sourceDir) && !existsSync(sourceFile))
    problems.push({
      ...locate(source, ['STORAGE', 'SOURCE_BLOB']),
      message: `file not found: ${display(sourceFile)} (SOURCE_BLOB inside SOURCE_CONTAINER)`,
    });
  const targetDir = inRepo(['STORAGE', 'TARGET_CONTAINER'], storage.TARGET_CONTAINER, 'folder');
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
    assets: config.DATA_ASSETS.map((a) => ({ name: a.NAME, path: a.PATH, description: a.DESCRIPTION })),
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
  STORAGE: { STORAGE_ACCOUNT?: string; SOURCE_CONTAINER: string; SOURCE_BLOB: string; TARGET_CONTAINER: string };
  PATH?: { DATA_PIPELINE_CODE_DIR: string };
  SCHEDULE?: { NAME: string; CRON_EXPRESSION: string; TIMEZONE?: string };
  DATA_ASSETS: { NAME: string; PATH: string; DESCRIPTION?: string }[];
}

function azureNotYet(source: SourceFile, config: DataopsConfig): ConfigError {
  const at = config.EXECUTION_TYPE ? locate(source, ['EXECUTION_TYPE']) : locate(source, [], 'value');
  const found = config.EXECUTION_TYPE ? '"azure"' : 'no EXECUTION_TYPE (azure, as in the template)';
  return ConfigError.at(
    at,
    `EXECUTION_TYPE: found ${found}; llmops data-pipeline does not yet read blob storage, register Azure ML data assets or schedule Azure ML pipelines. Expected "EXECUTION_TYPE": "local", with STORAGE.SOURCE_CONTAINER and TARGET_CONTAINER as folders relative to the repository root`,
  );
}
