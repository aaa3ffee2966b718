#!/usr/bin/env bash
# Build the plugin as a WebAssembly component: dist/{{name}}.wasm.
# Uses $COMPONENTIZE_JS when set (a componentize-js already installed),
# otherwise the one `npm install` puts in node_modules (once).
set -euo pipefail
cd "$(dirname "$0")"
componentize=${COMPONENTIZE_JS:-node_modules/.bin/componentize-js}
if [ -z "${COMPONENTIZE_JS:-}" ] && [ ! -x "$componentize" ]; then
  npm install --no-audit --no-fund
fi
mkdir -p dist
# No WASI features: a rekon plugin needs none (it logs through the host's `log`),
# and each one left out is an import less for the sandbox to refuse or allow.
"$componentize" src/plugin.js --wit wit --world-name {{wit-world}} \
  --disable stdio random clocks http fetch-event -o dist/{{name}}.wasm
# A manifest mutator or validator is shown every object of a render (Secrets
# only with the operator's `secrets` grant) unless it declares an interest:
# one JSON rule per --interest, e.g. only Deployments and StatefulSets
# (docs/plugins.md in rekon, "Interest"):
#   "${REKON:-rekon}" plugin annotate dist/{{name}}.wasm -o dist/{{name}}.wasm \
#     --interest '{"groups":["apps"],"kinds":["Deployment","StatefulSet"]}'
echo "built dist/{{name}}.wasm"
