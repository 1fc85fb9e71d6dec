// Builds the web UI into dist/ui, which the registry serves at / (src/http/ui.ts).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    // No inline script anywhere: the Content-Security-Policy allows only files of this origin.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
});
