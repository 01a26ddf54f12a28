export { configSchema, type HoistConfig, type EnvironmentConfig, type AppConfig } from './schema.js';
export { parseConfig, loadConfigFile, describeProblems, type ConfigProblem } from './load.js';
export { readRuntimeEnv, loadRuntimeConfig, demoConfigText, demoRepoDir, DEMO_SECRETS, type RuntimeEnv, type LoadedConfig } from './runtime.js';
