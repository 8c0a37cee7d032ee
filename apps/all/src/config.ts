import { ConfigError } from "@k6-gate/shared";
import { loadApiConfig, type ApiConfig } from "../../api/src/config";
import { loadWorkerConfig, type WorkerConfig } from "../../worker/src/config";

export interface AllInOneConfig {
  api: ApiConfig;
  worker: WorkerConfig;
}

/**
 * The API's and the worker's settings, read from one environment as each reads it apart
 * (the same variables, the same defaults); every problem of either is named at once.
 */
export function loadAllInOneConfig(env: NodeJS.ProcessEnv = process.env): AllInOneConfig {
  const problems = new Set<string>();
  const parsed = <C>(load: (env: NodeJS.ProcessEnv) => C): C | undefined => {
    try {
      return load(env);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const problem of error.problems) problems.add(problem);
      return undefined;
    }
  };
  const api = parsed(loadApiConfig);
  const worker = parsed(loadWorkerConfig);
  if (api === undefined || worker === undefined) throw new ConfigError([...problems]);
  return { api, worker };
}
