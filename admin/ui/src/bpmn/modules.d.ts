// The properties panel packages ship JavaScript without type declarations; the designer reaches them
// only through src/bpmn, which types what it uses itself.
declare module '@bpmn-io/properties-panel';
declare module 'bpmn-js-properties-panel';
// Vite answers an import ending in ?url with the built file's address.
declare module '*?url' {
  const url: string;
  export default url;
}
