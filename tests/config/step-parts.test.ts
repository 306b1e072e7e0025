/**
 * Each step loads what it uses: problems in parts a step does not use never stop it (one warning at
 * most), validate reports every problem once with the steps it blocks.
 */
import { ConfigError, formatProblem } from '../../src/shared/errors.js';
import { blockedSteps, type LifecycleStep } from '../../src/shared/config/parts.js';
import { loadUseCase, type LoadUseCaseOptions } from '../../src/shared/config/use-case.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { baseEnv, experimentWith as x, makeUseCase } from '../helpers/use-case-dir.js';
import { emptyDeploymentConfig, emptyDeploymentProblems } from '../helpers/placeholder-configs.js';

type Files = Record<string, string | null>;

function attempt(files: Files, options: Partial<LoadUseCaseOptions> = {}) {
  const uc = makeUseCase(files);
  const host = new MemoryHost();
  try {
    const useCase = loadUseCase({ configPath: 'experiment.yaml', cwd: uc.dir, processEnv: baseEnv, host, ...options });
    return { useCase, host, problems: [] as string[] };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return { useCase: undefined, host, problems: e.problems.map(formatProblem) };
  } finally {
    uc.cleanup();
  }
}

const warningsOf = (host: MemoryHost) => host.lines.filter((l) => l.level === 'warning').map((l) => l.message);
const steps: LifecycleStep[] = ['register-data', 'bulk-run', 'evaluate', 'report', 'deploy', 'smoke-test'];

describe('the template deployment_config.json with its empty placeholders', () => {
  const files = {
    'configs/deployment_config.json': emptyDeploymentConfig,
    'sample-request.json': '{"question": "q"}\n',
  };

  test.each(['register-data', 'bulk-run', 'evaluate', 'report'] as const)(
    '%s loads, with one warning naming the file and the steps it blocks',
    (step) => {
      const r = attempt(files, { needs: step });
      expect(r.problems).toEqual([]);
      expect(r.useCase?.name).toBe('demo');
      expect(warningsOf(r.host)).toEqual([
        `not used by ${step}, so not checked further: configs/deployment_config.json (9 problems; blocks: deploy, smoke-test); \`llmops validate\` lists them`,
      ]);
    },
  );

  test.each(['deploy', 'smoke-test'] as const)(
    '%s stops on every problem, each said once at file:line:column',
    (step) => {
      const r = attempt(files, { needs: step });
      expect(r.problems).toEqual(emptyDeploymentProblems);
      expect(warningsOf(r.host)).toEqual([]);
    },
  );

  test('validate reports every problem once, with the steps it blocks', () => {
    const r = attempt(files, { needs: 'all', explainBlocked: true });
    expect(r.problems).toEqual(emptyDeploymentProblems.map((p) => `${p} [blocks: deploy, smoke-test]`));
  });
});

describe('which steps a problem blocks', () => {
  test('an unset connection secret blocks the steps that run flows, not register-data or report', () => {
    const files = {};
    const processEnv = { AOAI_API_BASE: 'http://127.0.0.1:9' };
    const blockedBy = steps.filter((step) => attempt(files, { needs: step, processEnv }).problems.length > 0);
    expect(blockedBy).toEqual(['bulk-run', 'evaluate', 'deploy']);
    expect(attempt(files, { processEnv, explainBlocked: true }).problems).toEqual([
      'experiment.yaml:7:14: connections[0].api_key: environment variable AOAI_API_KEY is not set (needed for the placeholder ${api_key}); set it in your CI secrets or in .env at the repository root [blocks: bulk-run, evaluate, deploy]',
    ]);
  });

  test('a missing evaluation flow blocks evaluate only', () => {
    const files = { 'flows/eval/flow.dag.yaml': null, 'flows/eval/README.md': 'later' };
    expect(steps.filter((step) => attempt(files, { needs: step }).problems.length > 0)).toEqual(['evaluate']);
    expect(attempt(files, { explainBlocked: true }).problems[0]).toMatch(
      /^experiment\.yaml:15:11: evaluators\[0\]\.flow: .*\[blocks: evaluate\]$/,
    );
  });

  test('a broken evaluators block blocks register-data, evaluate and report; bulk-run still runs', () => {
    const files = { 'experiment.yaml': x('reference: train', 'reference: [train]') };
    expect(steps.filter((step) => attempt(files, { needs: step }).problems.length > 0)).toEqual([
      'register-data',
      'evaluate',
      'report',
    ]);
  });

  test('env.yaml problems block the steps that run flows', () => {
    const files = { 'environment/env.yaml': 'KEY: ${NOT_SET_ANYWHERE}\n' };
    expect(steps.filter((step) => attempt(files, { needs: step }).problems.length > 0)).toEqual([
      'bulk-run',
      'evaluate',
      'deploy',
    ]);
  });

  test('dataops_config.json problems block no lifecycle step; validate still reports them', () => {
    const files = { 'configs/dataops_config.json': '{\n  "DATA_STORE_NAME": ""\n}\n' };
    for (const step of steps) expect(attempt(files, { needs: step }).problems).toEqual([]);
    const all = attempt(files, { explainBlocked: true }).problems;
    expect(all.length).toBeGreaterThan(0);
    for (const p of all)
      expect(p).toMatch(/^configs\/dataops_config\.json:.*\[blocks: no lifecycle step \(only validate reads it\)\]$/);
  });

  test('a problem in experiment.yaml itself blocks every step', () => {
    const r = attempt({ 'experiment.yaml': x('name: demo', 'name: [demo]') }, { explainBlocked: true });
    expect(r.problems).toEqual(['experiment.yaml:1:7: name: found a list, expected text [blocks: every step]']);
    for (const step of steps)
      expect(attempt({ 'experiment.yaml': x('name: demo', 'name: [demo]') }, { needs: step }).problems).toHaveLength(1);
  });

  test('blockedSteps: a problem blocks the steps that use all of its parts', () => {
    expect(blockedSteps(['deployment'])).toEqual(['deploy', 'smoke-test']);
    expect(blockedSteps(['evaluator-flows', 'runtime'])).toEqual(['evaluate']);
    expect(blockedSteps(['dataops'])).toEqual([]);
  });
});

describe('one message per problem', () => {
  test('an empty name breaking both the length and the pattern rule is said once, by its most specific rule', () => {
    const r = attempt({ 'experiment.yaml': x('  - name: train\n', '  - name: ""\n') }, { needs: 'report' });
    const at = r.problems.filter((p) => p.startsWith('experiment.yaml:9:'));
    expect(at).toEqual([
      "experiment.yaml:9:11: datasets[0].name: found an empty text, expected a name of letters, digits, '_', '.' or '-'",
    ]);
  });
});
