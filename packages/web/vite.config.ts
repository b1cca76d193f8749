import { defineConfig, defaultClientConditions, type ProxyOptions } from 'vite';
import vue from '@vitejs/plugin-vue';

/** The API server the dev server forwards to (`npm run dev` at the repository root starts it on 8080). */
const apiTarget = 'http://127.0.0.1:8080';

/**
 * In development the page comes from Vite (another port), but to the server the dev proxy stands in for the
 * same origin: present the target as Origin, or the WebSocket origin check and the cookie-bearing auth calls
 * would refuse the dev page.
 */
const sameOriginProxy = (ws: boolean): ProxyOptions => ({
  target: apiTarget,
  ws,
  configure(proxy) {
    proxy.on('proxyReq', (proxyReq) => proxyReq.setHeader('origin', apiTarget));
    proxy.on('proxyReqWs', (proxyReq) => proxyReq.setHeader('origin', apiTarget));
  },
});

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
      '/api': sameOriginProxy(false),
      '/ws': sameOriginProxy(true),
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
  },
});
