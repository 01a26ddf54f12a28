export { configSchema, type HoistConfig, type EnvironmentConfig, type AppConfig } from './schema.js';
export { parseConfig, analyzeConfig, loadConfigFile, describeProblems, type ConfigProblem, type ConfigAnalysis, type ConfigLayout } from './load.js';
export { readRuntimeEnv, loadRuntimeConfig, demoConfigText, demoRepoDir, DEMO_SECRETS, type RuntimeEnv, type LoadedConfig } from './runtime.js';
export { readCliEnv, type CliEnv } from './cli-env.js';
