import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Suites start real servers (ZooKeeper, Dubbo peers) on loopback ports; two workers suit a 2-core machine.
    pool: "forks",
    maxWorkers: 2,
    // model objects and the generators' cached pieces are deep-frozen, so code that alters one fails (control/util/freeze.ts)
    env: { DUBBO_MESH_FREEZE: "1" },
  },
});
