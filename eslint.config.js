import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/', 'node_modules/', 'coverage/', '.llmops/', '**/*.py', 'tests/artifacts/', 'reports/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        Buffer: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
        performance: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // Area import directions (DESIGN.md "Layout"): data walks one way, config → plan → engine → store → eval →
  // results → renderers. One no-restricted-imports setting per area, since a later block replaces an earlier
  // block's options for the same rule. Relative paths are matched as written: every area is a folder of
  // src/shared, so an import reaching another area names it after one or more "../".
  ...areaRules(),
);

function areaRules() {
  const ciPackages = {
    group: ['@actions/*', 'azure-pipelines-task-lib', 'azure-pipelines-task-lib/*'],
    message: 'The core reaches CI systems only through the Host interface.',
  };
  const outsideCore = {
    regex: '^(\\.\\./)+(model-server|commands|packaging)(/|$)|^(\\.\\./)+(cli|cli-program|cli-support|demo)\\.js$',
    message:
      'The core (src/shared) never imports the model server, the CLI commands or the CI packaging: they sit above it.',
  };
  const area = (areas, why) => ({ regex: `^(\\.\\./)+(shared/)?(${areas.join('|')})(/|\\.js$)`, message: why });
  const engine = area(
    ['runs', 'eval', 'steps'],
    'The engine runs one line of a flow: it imports neither runs, nor eval, nor steps (they call it).',
  );
  const evalArea = area(
    ['steps'],
    'eval never imports steps: steps call eval, and what they hand each other is typed in src/shared/results.',
  );
  const report = {
    regex: '^\\.\\./(?!results/|errors\\.js$|files\\.js$|source\\.js$|assets\\.js$|json-depth\\.js$)',
    message:
      'report imports only the results model (src/shared/results) and the core utilities (errors, files, source, assets).',
  };
  const restrict = (...patterns) => ['error', { patterns }];
  const hostAdapters = ['src/shared/host/github.ts', 'src/shared/host/ado.ts'];
  const noExit = {
    object: 'process',
    property: 'exit',
    message: 'The core never exits: throw a typed error and let the host translate it.',
  };
  return [
    {
      // The core reaches CI systems only through the Host interface (DESIGN.md "Boundaries").
      files: ['src/shared/**/*.ts'],
      ignores: hostAdapters,
      rules: {
        'no-restricted-imports': restrict(ciPackages, outsideCore),
        'no-restricted-properties': ['error', noExit],
      },
    },
    {
      files: hostAdapters,
      rules: { 'no-restricted-imports': restrict(outsideCore), 'no-restricted-properties': ['error', noExit] },
    },
    {
      files: ['src/shared/engine/**/*.ts'],
      rules: { 'no-restricted-imports': restrict(ciPackages, outsideCore, engine) },
    },
    {
      files: ['src/shared/eval/**/*.ts'],
      rules: { 'no-restricted-imports': restrict(ciPackages, outsideCore, evalArea) },
    },
    {
      files: ['src/shared/report/**/*.ts'],
      rules: { 'no-restricted-imports': restrict(ciPackages, outsideCore, report) },
    },
  ];
}
