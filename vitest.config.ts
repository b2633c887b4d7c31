import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["services/**/*.test.ts", "clients/**/*.test.ts", "test/**/*.test.ts", "bench/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Real processes and servers: spread over the two cores, not more.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ["default"],
    // A test that makes no assertion fails ("expected any number of assertion, but got none"):
    // one whose expects all sit in a branch or loop that never ran cannot pass quietly.
    expect: { requireAssertions: true },
    // CI runs every suite at once on two cores; a test that fails once there is run again and
    // the retry shows in the report (flaky tests are listed in the issue notes to be fixed).
    retry: process.env.CI === "true" ? 1 : 0,
  },
});
