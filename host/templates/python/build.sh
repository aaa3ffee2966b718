#!/usr/bin/env bash
# Build the plugin as a WebAssembly component: dist/{{name}}.wasm.
# Uses $COMPONENTIZE_PY when set, otherwise `componentize-py` from PATH
# (`pip install -r requirements.txt`, preferably in a virtual environment).
set -euo pipefail
cd "$(dirname "$0")"
componentize=${COMPONENTIZE_PY:-componentize-py}
mkdir -p dist
"$componentize" -d wit -w {{wit-world}} componentize app -o dist/{{name}}.wasm
echo "built dist/{{name}}.wasm"
