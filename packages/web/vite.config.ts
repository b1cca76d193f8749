import { defineConfig, defaultClientConditions } from 'vite';
import vue from '@vitejs/plugin-vue';

/** The API server the dev server forwards to (`npm run dev` at the repository root starts it on 8080). */
const apiTarget = 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [vue()],
  define: {
    // vue-i18n's bundler build reads these flags: Composition API only, no devtools hooks in production.
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  resolve: {
    // Workspace packages expose their TypeScript sources under the `source` condition, so the web app builds
    // from @kkchat/client and @kkchat/protocol sources without a prior `tsc -b`.
    conditions: ['source', ...defaultClientConditions],
  },
  server: {
    proxy: {
      '/api': { target: apiTarget, changeOrigin: false },
      '/ws': { target: apiTarget, ws: true, changeOrigin: false },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
  },
});
