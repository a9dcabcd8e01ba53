// The part of the WebAssembly JS API this project uses. Node has all of it, but TypeScript declares it only in
// the DOM and web worker libs, which would bring browser globals into a Node program's types.
declare namespace WebAssembly {
  // A compiled module is an opaque handle: the API gives it no members.
  // eslint-disable-next-line @typescript-eslint/no-extraneous-class
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
  }
  class Global {
    readonly value: unknown;
  }
}
