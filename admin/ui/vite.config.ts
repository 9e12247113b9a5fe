// Vite builds the admin app into static/app, which ui.go embeds into the binary. The output is committed
// and CI rebuilds it and compares, so the build must be reproducible: content hashes in file names, no
// timestamps, no absolute paths.
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  plugins: [svelte()],
  base: '/',
  // npm run dev: the app with hot reload, the API of a `rapport dev` on :8080 behind it.
  server: { proxy: { '/api': process.env.RAPPORT_URL || 'http://127.0.0.1:8080' } },
  build: {
    outDir: 'static/app',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
    chunkSizeWarningLimit: 600,
    assetsInlineLimit: 0,
    rolldownOptions: {
      output: {
        // The Svelte runtime in a chunk of its own, named for what it holds.
        codeSplitting: { groups: [{ name: 'svelte', test: /node_modules[\\/]svelte[\\/]/ }] },
      },
    },
  },
});
