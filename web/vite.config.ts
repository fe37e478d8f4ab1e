import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Plugin } from 'vite';

// Swagger UI for the API's /docs page, from local files (no CDN: /docs works offline). The files of
// the swagger-ui-dist package are copied into dist/swagger-ui/, which the server serves.
const SWAGGER_FILES = ['swagger-ui-bundle.js', 'swagger-ui.css', 'favicon-32x32.png', 'LICENSE'];
function swaggerUi(): Plugin {
  return {
    name: 'deepmend-swagger-ui',
    apply: 'build',
    generateBundle() {
      const root = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
      for (const f of SWAGGER_FILES) {
        this.emitFile({ type: 'asset', fileName: `swagger-ui/${f}`, source: readFileSync(join(root, f)) });
      }
    },
  };
}

// The Python server (`deepmend serve`) serves /api/ and this app (web/dist) on the same origin.
// In development the Vite server proxies /api to it.
const API_TARGET = process.env.DEEPMEND_API ?? 'http://127.0.0.1:8000';

export default defineConfig({
  base: '/',
  plugins: [react(), swaggerUi()],
  server: {
    port: 5173,
    proxy: {
      '/api': { target: API_TARGET, changeOrigin: true },
      '/openapi.json': { target: API_TARGET, changeOrigin: true },
      '/docs': { target: API_TARGET, changeOrigin: true },
    },
  },
  preview: {
    proxy: {
      '/api': { target: API_TARGET, changeOrigin: true },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    rolldownOptions: {
      output: {
        // The MapLibre worker is an ES module emitted as an asset (`?url`); give it a `.js`
        // name so that any static server sends it as JavaScript (some do not know `.mjs`).
        assetFileNames: (info) => {
          const name = info.names?.[0] ?? '';
          return name.endsWith('.mjs') ? 'assets/[name]-[hash].js' : 'assets/[name]-[hash][extname]';
        },
      },
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
});
