import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Served by registry-api under /console (apps/registry-api/src/console), so every asset URL
// carries that prefix. `npm run dev` proxies the APIs to a registry on :8080.
export default defineConfig({
  base: '/console/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 1024 },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8080', '/graphql': 'http://127.0.0.1:8080', '/readyz': 'http://127.0.0.1:8080' },
  },
});
