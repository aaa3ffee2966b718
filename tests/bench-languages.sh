#!/usr/bin/env bash
# Size, load and call times of plugins in Rust, JavaScript and Python, in one
# run (host/benches/languages.rs; docs/PERFORMANCE.md records a run). Builds
# the Rust plugins and the two examples under examples/plugins/ first, with
# the componentize-js and componentize-py that tests/run.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=target/lang-tools
for tool in "$tools/node/node_modules/.bin/componentize-js" "$tools/python/bin/componentize-py"; do
  [ -x "$tool" ] || { echo "$tool missing: run tests/run.sh once (it installs it)" >&2; exit 1; }
done
tests/build-plugins.sh
# arm64-affinity's build.sh declares its interest with `rekon plugin annotate`.
cargo build -p rekon
export REKON="${CARGO_TARGET_DIR:-$PWD/target}/debug/rekon"
COMPONENTIZE_JS=$PWD/$tools/node/node_modules/.bin/componentize-js examples/plugins/arm64-affinity/build.sh
COMPONENTIZE_PY=$PWD/$tools/python/bin/componentize-py examples/plugins/calver-policy/build.sh
cargo bench -p rekon --bench languages
