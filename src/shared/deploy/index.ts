/**
 * Deployment targets (local now) and the smoke test of any scoring endpoint.
 * @module
 */
export {
  deployLocal,
  stopLocalDeployment,
  liveEndpoint,
  type DeployLocalOptions,
  type DeployLocalResult,
} from './local.js';
export { deploymentName, readState, stateFile, type LocalDeploymentState, type LocalInstance } from './state.js';
export {
  loadSmokeTests,
  sampleRequestSuite,
  parseJsonPath,
  type SmokeSuite,
  type SmokeTest,
  type ValueExpectation,
} from './smoke-tests.js';
export {
  runSmokeTests,
  joinEvents,
  percentile,
  scoringUrl,
  type SmokeOptions,
  type SmokeResult,
  type SmokeTestResult,
} from './smoke-run.js';
export { smokeMarkdown, smokeJUnit } from './smoke-report.js';
export { suiteForUseCase } from './use-case-suite.js';
export { deployAndVerify, type DemoDeployment } from './demo.js';
