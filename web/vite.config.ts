import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// The Python server (`deepmend serve`) serves /api/ and this app (web/dist) on the same origin.
// In development the Vite server proxies /api to it.
const API_TARGET = process.env.DEEPMEND_API ?? 'http://127.0.0.1:8000';

export default defineConfig({
  base: '/',
  plugins: [react()],
  server: {
    port: 5173,
    proxy: {
      '/api': { target: API_TARGET, changeOrigin: true },
      '/openapi.json': { target: API_TARGET, changeOrigin: true },
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
