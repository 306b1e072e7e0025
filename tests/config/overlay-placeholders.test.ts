/** Overlays (seed template §2.5), placeholders (§2.2, §2.7), .env, and secrets that never leak. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../src/shared/errors.js';
import { loadUseCase } from '../../src/shared/config/use-case.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { baseEnv, baseExperiment, makeUseCase } from '../helpers/use-case-dir.js';

function load(files: Record<string, string | null>, opts: { env?: string; processEnv?: Record<string, string> } = {}) {
  const uc = makeUseCase(files);
  const host = new MemoryHost();
  try {
    return {
      useCase: loadUseCase({
        configPath: 'experiment.yaml',
        env: opts.env,
        cwd: uc.dir,
        processEnv: opts.processEnv ?? baseEnv,
        host,
      }),
      host,
    };
  } finally {
    uc.cleanup();
  }
}

function problemsOf(
  files: Record<string, string | null>,
  opts: { env?: string; processEnv?: Record<string, string> } = {},
): string {
  try {
    load(files, opts);
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('overlays replace whole blocks', () => {
  test('no overlay file: the base is used as it is', () => {
    const { useCase } = load({}, { env: 'qa' });
    expect(useCase.overlayFile).toBeUndefined();
    expect(useCase.datasets.map((d) => d.name)).toEqual(['train']);
    expect(useCase.evaluators.map((e) => e.name)).toEqual(['accuracy']);
  });

  test('an env without an overlay beside overlays of other envs (a misspelt env) is warned of, naming them', () => {
    const alone = load({}, { env: 'qa' });
    expect(alone.host.lines.filter((l) => l.level === 'warning')).toEqual([]);
    const { useCase, host } = load(
      { 'experiment.dev.yaml': '# dev\n', 'experiment.pr.yaml': '# pr\n' },
      { env: 'dve' },
    );
    expect(useCase.overlayFile).toBeUndefined();
    expect(host.lines.filter((l) => l.level === 'warning').map((w) => `${w.at?.file}: ${w.message}`)).toEqual([
      'experiment.yaml: no overlay experiment.dve.yaml for env "dve" (overlays here: dev, pr); the base configuration is used as it is',
    ]);
  });

  test('datasets are replaced, not merged; evaluators: null removes evaluation (the PR pattern)', () => {
    const { useCase } = load(
      {
        'experiment.pr.yaml':
          'datasets:\n  - name: small\n    source: data/train.jsonl\n    mappings:\n      question: ${data.question}\nevaluators:\n',
        'data/small.jsonl': '{}\n',
      },
      { env: 'pr' },
    );
    expect(useCase.overlayFile).toMatch(/experiment\.pr\.yaml$/);
    expect(useCase.datasets.map((d) => d.name)).toEqual(['small']);
    expect(useCase.evaluators).toEqual([]);
  });

  test('the env comes from ENV_NAME when --env is not given', () => {
    const { useCase } = load(
      { 'experiment.dev.yaml': 'runtime: dev-runtime\n' },
      { processEnv: { ...baseEnv, ENV_NAME: 'dev' } },
    );
    expect(useCase.envName).toBe('dev');
    expect(useCase.runtime).toBe('dev-runtime');
  });

  test('name and flow are never taken from an overlay, with a warning at their line', () => {
    const { useCase, host } = load({ 'experiment.dev.yaml': 'name: other\nflow: flows/eval\n' }, { env: 'dev' });
    expect(useCase.name).toBe('demo');
    expect(useCase.flow.path).toMatch(/flows[/\\]std$/);
    const warnings = host.lines.filter((l) => l.level === 'warning');
    expect(warnings.map((w) => `${w.at?.file}:${w.at?.line}: ${w.message}`)).toEqual([
      'experiment.dev.yaml:1: name: ignored in an overlay (the experiment name always comes from the base file)',
      'experiment.dev.yaml:2: flow: ignored in an overlay (the experiment flow always comes from the base file)',
    ]);
  });

  test('an empty overlay file changes nothing', () => {
    const { useCase } = load({ 'experiment.dev.yaml': '# nothing here\n' }, { env: 'dev' });
    expect(useCase.datasets.map((d) => d.name)).toEqual(['train']);
  });

  test('the overlay of another base file inserts the env before the extension', () => {
    const uc = makeUseCase({
      'experiment-postprod.yaml':
        'name: post\nflow: flows/eval\ndatasets:\n  - name: prod\n    source: data/eval.jsonl\n    mappings: {}\n',
      'experiment-postprod.nightly.yaml': 'runtime: rt\n',
    });
    try {
      const useCase = loadUseCase({
        configPath: 'experiment-postprod.yaml',
        env: 'nightly',
        cwd: uc.dir,
        processEnv: baseEnv,
      });
      expect(path.basename(useCase.overlayFile!)).toBe('experiment-postprod.nightly.yaml');
      expect(useCase.runtime).toBe('rt');
    } finally {
      uc.cleanup();
    }
  });
});

describe('placeholders and secrets', () => {
  test('${x} reads <CONNECTION>_<X>; every resolved value is masked before anything is logged', () => {
    const { useCase, host } = load({});
    expect(useCase.connections[0].value).toEqual({ api_base: baseEnv.AOAI_API_BASE, api_key: baseEnv.AOAI_API_KEY });
    expect(useCase.connections[0].secretKeys.sort()).toEqual(['api_base', 'api_key']);
    expect([...host.secrets]).toEqual(expect.arrayContaining([baseEnv.AOAI_API_KEY]));
  });

  test('.env at the repository root fills what CI did not set, and never overrides it', () => {
    const uc = makeUseCase({});
    try {
      writeFileSync(path.join(uc.dir, '.env'), 'AOAI_API_KEY=from-dotenv-file\nAOAI_API_BASE=http://from-dotenv\n');
      const useCase = loadUseCase({
        configPath: 'experiment.yaml',
        cwd: uc.dir,
        processEnv: { AOAI_API_BASE: 'http://from-ci' },
      });
      expect(useCase.connections[0].value).toEqual({ api_base: 'http://from-ci', api_key: 'from-dotenv-file' });
    } finally {
      uc.cleanup();
    }
  });

  test('literal connection values are kept; literal api keys are still masked', () => {
    const { useCase, host } = load({
      'experiment.yaml': baseExperiment.replace('api_key: ${api_key}', 'api_key: literal-key-value'),
    });
    expect(useCase.connections[0].value.api_key).toBe('literal-key-value');
    expect(host.secrets.has('literal-key-value')).toBe(true);
  });

  test('CustomConnection configs and secrets; only secrets are secret keys', () => {
    const yaml = baseExperiment.replace(
      '  - name: aoai\n    connection_type: AzureOpenAIConnection\n    api_base: ${api_base}\n    api_key: ${api_key}\n',
      '  - name: search\n    connection_type: CustomConnection\n    configs:\n      endpoint: https://search.local\n    secrets:\n      key: ${key}\n',
    );
    const { useCase } = load({ 'experiment.yaml': yaml }, { processEnv: { SEARCH_KEY: 'search-secret-0001' } });
    expect(useCase.connections[0]).toEqual({
      name: 'search',
      type: 'CustomConnection',
      value: { endpoint: 'https://search.local', key: 'search-secret-0001' },
      secretKeys: ['key'],
    });
  });

  test('env.yaml: keys upper-cased, CI values win (unmasked), ${REF} resolved and masked', () => {
    const { useCase, host } = load(
      { 'environment/env.yaml': 'log_level: info\nMODE: local\nSEARCH_KEY: ${SEARCH_API_KEY}\n' },
      { processEnv: { ...baseEnv, MODE: 'ci', SEARCH_API_KEY: 'search-api-key-42' } },
    );
    expect(useCase.environmentVariables).toEqual({ LOG_LEVEL: 'info', MODE: 'ci', SEARCH_KEY: 'search-api-key-42' });
    expect(host.secrets.has('search-api-key-42')).toBe(true);
    expect(host.secrets.has('ci')).toBe(false);
  });

  test('no secret value appears in any error message, even when other problems are reported', () => {
    const secret = 'sk-live-THIS-MUST-NOT-LEAK';
    const message = problemsOf(
      {
        'experiment.yaml': baseExperiment.replace('name: demo', 'name: 42'),
        'environment/env.yaml': 'TOKEN: ${MISSING}\nOTHER: ${PRESENT}\n',
      },
      { processEnv: { AOAI_API_KEY: secret, AOAI_API_BASE: secret + '-base', PRESENT: secret } },
    );
    expect(message).toContain('MISSING');
    expect(message).toContain('name: found the number 42');
    expect(message).not.toContain(secret);
  });

  test('a missing variable is named, its value never printed', () => {
    const message = problemsOf({}, { processEnv: { AOAI_API_KEY: 'present-secret-value' } });
    expect(message).toContain('AOAI_API_BASE is not set');
    expect(message).not.toContain('present-secret-value');
  });
});
