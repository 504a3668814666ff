import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The build lands in the host crate, which embeds it and serves it at `/` with
// a Content-Security-Policy of `default-src 'self'`: no inline scripts or styles.
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: '../host/assets/ui',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    modulePreload: { polyfill: false },
    // Never inline assets as data: URLs (CSP `default-src 'self'` refuses them).
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/hooks': 'http://127.0.0.1:8080',
    },
  },
});
