/** Jest runs the TypeScript sources as ESM through ts-jest (isolatedModules: type checking is `npm run typecheck`). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  testMatch: ['<rootDir>/tests/**/*.test.ts'],
  testTimeout: 60000,
  globalSetup: '<rootDir>/tests/global-setup.js',
  // In some runs something holds Jest's main process for minutes after the last test has passed (no child
  // process is left; the handle is not found yet). Exit when the tests are done rather than let CI wait on it.
  forceExit: true,
};
