// Svelte 5 compiles TypeScript in components natively; no preprocessor is needed.
export default {
  compilerOptions: { runes: true },
};
