// Temporary: until the root vitest config (with its `unit` project) exists. Delete then.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['source'] },
  test: { include: ['src/**/*.test.ts'] },
});
