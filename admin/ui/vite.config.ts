// Vite builds the admin app into static/app, which ui.go embeds into the binary. The output is committed
// and CI rebuilds it and compares, so the build must be reproducible: content hashes in file names, no
// timestamps, no absolute paths.
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  plugins: [svelte()],
  base: '/',
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
