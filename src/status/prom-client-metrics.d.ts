// prom-client's default-metric collectors, one module each (lib/metrics/*.js, CommonJS): each registers
// its metrics on `registry` with `config.prefix`. prom-client ships no types for them.
declare module 'prom-client/lib/metrics/*.js' {
  import type { Registry } from 'prom-client';
  const collect: (
    registry: Registry,
    config: { readonly prefix?: string; readonly eventLoopMonitoringPrecision?: number },
  ) => void;
  export default collect;
}
