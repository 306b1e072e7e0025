import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/', 'node_modules/', 'coverage/', '.llmops/', '**/*.py', 'tests/artifacts/', 'reports/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly', fetch: 'readonly', AbortController: 'readonly', performance: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The core reaches CI systems only through the Host interface (DESIGN.md "Boundaries").
    files: ['src/shared/**/*.ts'],
    ignores: ['src/shared/host/github.ts', 'src/shared/host/ado.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['@actions/*', 'azure-pipelines-task-lib', 'azure-pipelines-task-lib/*'] }],
      'no-restricted-properties': ['error', { object: 'process', property: 'exit', message: 'The core never exits: throw a typed error and let the host translate it.' }],
    },
  },
);
