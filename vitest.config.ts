import { defineConfig } from 'vitest/config';

// Three groups, run one after another: unit tests (parallel, seconds), the
// namespace lab on the host kernel, and the VM runs (each boots qemu).
export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'node-toa/test/unit/**/*.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts', 'node-toa/test/e2e/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'vm',
          include: ['test/vm/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 2_400_000,
          hookTimeout: 2_400_000,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
