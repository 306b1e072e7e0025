/**
 * Which smoke tests a use case gets: a tests file when given, else the TEST_FILE_PATH of the env's entry in
 * configs/deployment_config.json, else `<use case>/sample-request.json` (seed template §3).
 * @module
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { UseCase } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { loadSmokeTests, sampleRequestSuite, type SmokeSuite } from './smoke-tests.js';

export function suiteForUseCase(
  useCase: Pick<UseCase, 'baseDir' | 'envName' | 'deployment'>,
  testsFile?: string,
): SmokeSuite {
  if (testsFile) return loadSmokeTests(testsFile);
  for (const entries of Object.values(useCase.deployment ?? {})) {
    for (const e of entries as Record<string, unknown>[]) {
      if (typeof e.TEST_FILE_PATH === 'string' && (useCase.envName === undefined || e.ENV_NAME === useCase.envName)) {
        return sampleRequestSuite(path.resolve(useCase.baseDir, e.TEST_FILE_PATH));
      }
    }
  }
  const sample = path.join(useCase.baseDir, 'sample-request.json');
  if (existsSync(sample)) return sampleRequestSuite(sample);
  throw ConfigError.at(
    { file: path.relative(process.cwd(), useCase.baseDir) || '.' },
    'no smoke tests: expected --tests <file>, a TEST_FILE_PATH in configs/deployment_config.json for this env, or sample-request.json in the use case folder',
  );
}
