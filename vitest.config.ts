import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // the private Docker Engine of the real-engine tests: one per run, started on first use, stopped at the end
    globalSetup: ['test/helpers/docker-engine.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites each start their own engines on free ports; two cores, so keep parallelism modest.
    maxWorkers: 2,
    pool: 'forks',
    // the control plane's JSON log lines from warnings up (tests that read log lines run their own processes)
    env: { POWERTOOLS_LOG_LEVEL: 'WARN' },
  },
});
