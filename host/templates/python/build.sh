#!/usr/bin/env bash
# Build the plugin as a WebAssembly component: dist/{{name}}.wasm.
# Uses $COMPONENTIZE_PY when set, otherwise `componentize-py` from PATH
# (`pip install -r requirements.txt`, preferably in a virtual environment).
set -euo pipefail
cd "$(dirname "$0")"
componentize=${COMPONENTIZE_PY:-componentize-py}
mkdir -p dist
"$componentize" -d wit -w {{wit-world}} componentize app -o dist/{{name}}.wasm
# A manifest mutator or validator is shown every object of a render (Secrets
# only with the operator's `secrets` grant) unless it declares an interest:
# one JSON rule per --interest, e.g. only Deployments and StatefulSets
# (docs/plugins.md in rekon, "Interest"):
#   "${REKON:-rekon}" plugin annotate dist/{{name}}.wasm -o dist/{{name}}.wasm \
#     --interest '{"groups":["apps"],"kinds":["Deployment","StatefulSet"]}'
echo "built dist/{{name}}.wasm"
