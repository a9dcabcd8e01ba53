# syntax=docker/dockerfile:1
# The k8s-audit-forwarder image: TypeScript compiled by tsc in a Node 24 build stage, run by Node 24 on distroless
# (no shell, no package manager). Build: docker build -t k8s-audit-forwarder:0.1.0 .
# The Helm chart runs it as uid 0 with every capability dropped, to read the API server's 0600 audit log; the image
# itself defaults to the unprivileged distroless user, so it is safe wherever else it runs.
# Pin both images by digest in the release pipeline (tags are kept here so the file reads well).
ARG BUILD_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Every dependency: the build needs typescript. --ignore-scripts keeps this layer independent of the sources
# (`prepare` would run tsc here) and skips the `node` devDependency's download: this image's Node 24 runs tsc.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The JSON scan's WebAssembly, compiled from AssemblyScript by `npm run build` (a dev dependency: no native
# toolchain, and one module for every architecture).
COPY wasm ./wasm
RUN npm run build
# Production dependencies alone, in a fresh tree. No dependency has an install script, and `prepare` (tsc)
# cannot run without the dev dependencies, hence --ignore-scripts.
WORKDIR /out
RUN cp /app/package.json /app/package-lock.json ./ \
  && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && cp -r /app/dist ./dist \
  && mkdir state

FROM ${RUNTIME_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="k8s-audit-forwarder" \
  org.opencontainers.image.description="Ships Kubernetes API server audit logs to Elasticsearch, Splunk HEC or syslog without loss or duplication." \
  org.opencontainers.image.version="${VERSION}" \
  org.opencontainers.image.revision="${REVISION}" \
  org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
ENV NODE_ENV=production
# Memory (measured in bench/, see the README's memory notes): a small young generation (the per-event garbage
# is short-lived, and V8's default of up to 3 x 16 MB per thread only adds RSS) and one V8 platform thread (the
# default is one per core). The Helm chart sets NODE_OPTIONS itself (the same flags and a heap cap from the
# memory limit). --no-maglev, which NODE_OPTIONS does not allow, is in CMD.
ENV NODE_OPTIONS="--max-semi-space-size=2 --v8-pool-size=1"
# glibc malloc: two arenas, not eight per core; buffers of 128 KiB and more straight from mmap and returned when
# freed (the default threshold rises to 32 MiB after the first free, so freed batch buffers stayed resident).
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072
# dist/version.ts reads ../package.json, so package.json sits next to dist/.
COPY --from=build /out/package.json ./package.json
COPY --from=build /out/node_modules ./node_modules
COPY --from=build /out/dist ./dist
# The default state.dir, writable by the image's own user when it runs without the chart.
COPY --from=build --chown=65532:65532 /out/state /var/lib/k8s-audit-forwarder
USER 65532:65532
EXPOSE 9880
# Docker and compose only: Kubernetes ignores HEALTHCHECK (the chart has probes) and OCI images drop it.
# Assumes the default status.listen (127.0.0.1:9880). No curl here, so node itself asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
  CMD ["/nodejs/bin/node", "-e", "fetch('http://127.0.0.1:9880/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The distroless entrypoint is node. SIGTERM goes straight to it (PID 1): the forwarder drains and checkpoints.
# Never `npm start`: npm does not forward signals and wants a writable home. --no-maglev: no mid tier (its code
# and compile zones cost ~10 MB of RSS; TurboFan still optimizes the hot path). --heap-growing-percent=100: V8
# counts the batch buffers that come and go (ArrayBuffers moved between threads) against the heap's room until
# the next major collection; with its default room the main thread fell into a major collection every ~100 ms in
# half the benchmark runs (see the README's memory notes). The chart's args are the same.
CMD ["--no-maglev", "--heap-growing-percent=100", "/app/dist/main.js", "run", "--config", "/etc/k8s-audit-forwarder/config/forwarder.yaml"]
