import vue from '@vitejs/plugin-vue';
import { defaultClientConditions, defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

/**
 * One test run over four projects (`bash scripts/test.sh`, or `npx vitest run --project <name>`):
 *
 * - unit:        small tests beside the code, no I/O beyond the process
 * - integration: the server over real HTTP and WebSocket, and the SDK against it
 * - web:         Vue components and stores in happy-dom
 * - e2e:         the built app in Chromium, one file at a time
 *
 * Workspace packages resolve to their TypeScript sources through the `source` export condition, so tests never
 * need a build of @kkchat/protocol or @kkchat/client. Vite replaces (does not extend) its default conditions
 * when `conditions` is set, so the defaults are spread in after `source`.
 */
const SOURCE_FIRST_CLIENT = ['source', ...defaultClientConditions];
// Server code runs in Node, which ignores the bundlers' `module` condition; keeping it would load the AWS SDK's
// dist-es build, whose extensionless imports Node cannot resolve.
const SOURCE_FIRST_SERVER = ['source', ...defaultServerConditions.filter((c) => c !== 'module')];

export default defineConfig({
  resolve: { conditions: SOURCE_FIRST_CLIENT },
  ssr: { resolve: { conditions: SOURCE_FIRST_SERVER } },
  test: {
    // The suite has to run on a 2-core machine next to the servers it starts.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          environment: 'node',
          include: ['packages/{protocol,client,server}/src/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          environment: 'node',
          include: ['packages/server/test/**/*.test.ts', 'packages/client/test/**/*.test.ts', 'bench/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        extends: true,
        plugins: [vue()],
        test: {
          name: 'web',
          environment: 'happy-dom',
          include: ['packages/web/src/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          environment: 'node',
          include: ['tests/e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          // A poll waits for what a user would wait for; on a loaded 2-core machine that is more than a second.
          expect: { poll: { timeout: 10_000 } },
          // After every other project has finished: browsers (and WebRTC with fake media) need the CPU to
          // themselves on a 2-core machine, not a share next to the load of integration tests and benchmarks.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
