// The module's entry (npm run build:wasm): the scan (json-scan.ts) and the document writer (bulk-document.ts).
export {
  addKnownKey,
  addStringifiedKey,
  CHILDREN,
  DOTTED,
  HEADER,
  INPUT,
  MAX_LINE,
  MEMBERS,
  scan,
  STRINGS,
} from './json-scan';
export * from './bulk-document';
