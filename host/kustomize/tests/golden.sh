#!/bin/sh
# Regenerates the expected output of every golden case (or of the cases
# named as arguments) with `kubectl kustomize`, the oracle.
#
#   host/kustomize/tests/golden.sh [case...]
#
# A case is tests/golden/<case>/ with its tree under input/; input/ is the
# build path. kubectl's output goes to expected.yaml, or, when kubectl
# refuses the tree, its message goes to expected-error.txt. The kubectl
# version is written to golden/KUBECTL_VERSION and as a comment on top of
# every expected file, so a diff after an upgrade shows what moved.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
golden=$here/golden
kubectl=${KUBECTL:-kubectl}

version=$("$kubectl" version --client | tr '\n' ';' | sed 's/;$//; s/;/, /g')
echo "$version" >"$golden/KUBECTL_VERSION"

if [ $# -eq 0 ]; then
    set -- $(cd "$golden" && ls -d */ | sed 's|/$||')
fi

for case in "$@"; do
    dir=$golden/$case
    [ -d "$dir/input" ] || { echo "$case: no input/ directory" >&2; exit 1; }
    rm -f "$dir/expected.yaml" "$dir/expected-error.txt"
    if out=$("$kubectl" kustomize "$dir/input" 2>"$dir/stderr.tmp"); then
        { echo "# kubectl kustomize input ($version)"; printf '%s\n' "$out"; } >"$dir/expected.yaml"
        echo "$case: ok"
    else
        # kubectl prints absolute paths: keep them relative to the case.
        { echo "# kubectl kustomize input ($version) failed:"; sed "s|$dir/||g" "$dir/stderr.tmp"; } >"$dir/expected-error.txt"
        echo "$case: error"
    fi
    rm -f "$dir/stderr.tmp"
done
