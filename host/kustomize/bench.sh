#!/bin/sh
# Times rekon's kustomize build against `kubectl kustomize` on generated
# trees: one kustomization of 1,200 objects (400 Deployments, 400 Services,
# 400 ConfigMaps) with a namespace, a name prefix, labels, an image override,
# a JSON 6902 patch targeting every Deployment and a configMapGenerator; and
# the same with 10x the objects.
#
#   host/kustomize/bench.sh [--runs N] [--timeout S] [--no-generator] [--record]
#
# --no-generator leaves the configMapGenerator out (rekon refuses it until
# generators land). --record also writes the table into docs/PERFORMANCE.md
# under "kustomize build". rekon runs as the release example
# `examples/build.rs`; the two tools alternate, N runs each (default 5), and
# the table shows medians of wall time including process start. kubectl
# grows much faster than linearly with the object count, so a kubectl run
# longer than --timeout seconds (default 300) stops it, skips its later runs
# for that tree and shows as "> S000" in the table.
set -eu

runs=5
limit=300
generator=true
record=false
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=$2; shift ;;
        --timeout) limit=$2; shift ;;
        --no-generator) generator=false ;;
        --record) record=true ;;
        *) echo "usage: $0 [--runs N] [--timeout S] [--no-generator] [--record]" >&2; exit 2 ;;
    esac
    shift
done

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --quiet --release -p rekon-kustomize --example build
rekon=${CARGO_TARGET_DIR:-$repo/target}/release/examples/build

# tree DIR COUNT: COUNT objects of each kind, one file per kind.
tree() {
    mkdir -p "$1"
    awk -v n="$2" -v dir="$1" 'BEGIN {
        for (i = 0; i < n; i++) {
            printf "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-%d\nspec:\n  selector:\n    matchLabels: {app: app-%d}\n  template:\n    metadata:\n      labels: {app: app-%d}\n    spec:\n      containers:\n      - name: app\n        image: registry.lan/app:1.0\n        envFrom:\n        - configMapRef: {name: config-%d}\n", i, i, i, i > dir "/deployments.yaml"
            printf "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app-%d\nspec:\n  selector: {app: app-%d}\n  ports:\n  - port: 80\n", i, i > dir "/services.yaml"
            printf "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-%d\ndata:\n  index: \"%d\"\n", i, i > dir "/configmaps.yaml"
        }
    }'
    cat >"$1/kustomization.yaml" <<KUST
namespace: bench
namePrefix: prod-
labels:
- pairs:
    env: prod
  includeSelectors: true
images:
- name: registry.lan/app
  newTag: "2.0"
patches:
- target:
    kind: Deployment
  patch: |-
    - op: add
      path: /spec/replicas
      value: 2
resources:
- deployments.yaml
- services.yaml
- configmaps.yaml
KUST
    if $generator; then
        cat >>"$1/kustomization.yaml" <<KUST
configMapGenerator:
- name: generated
  literals:
  - mode=bench
KUST
    fi
}

now_ms() { date +%s%N | cut -c1-13; }

# time_one CMD...: prints the wall milliseconds of one run (output dropped),
# or "timeout" when it ran out of time.
time_one() {
    start=$(now_ms)
    if timeout "$limit" "$@" >/dev/null; then
        echo $(($(now_ms) - start))
    else
        [ $? -eq 124 ] || { echo "$* failed" >&2; exit 1; }
        echo timeout
    fi
}

median() {
    sort -n | awk -v limit="$limit" '
        /timeout/ { timedout = 1; next }
        { v[++n] = $1 }
        END {
            if (timedout) print "> " limit "000"
            else if (n % 2) print v[(n + 1) / 2]
            else print (v[n / 2] + v[n / 2 + 1]) / 2
        }'
}

tree "$work/1x" 400
tree "$work/10x" 4000
# Read every file once, so the first timed runs find them in the page cache.
cat "$work"/*/* >/dev/null

for size in 1x 10x; do
    : >"$work/rekon-$size" && : >"$work/kubectl-$size"
    i=0
    while [ $i -lt "$runs" ]; do
        time_one "$rekon" "$work/$size" >>"$work/rekon-$size"
        grep -q timeout "$work/kubectl-$size" ||
            time_one kubectl kustomize "$work/$size" >>"$work/kubectl-$size"
        i=$((i + 1))
    done
done

r1=$(median <"$work/rekon-1x"); r10=$(median <"$work/rekon-10x")
k1=$(median <"$work/kubectl-1x"); k10=$(median <"$work/kubectl-10x")
# ratio A B: A/B, or a bound when one side timed out.
ratio() {
    case "$1 $2" in
        ">"*">"*) echo "?" ;;
        ">"*) awk -v a="${1#> }" -v b="$2" 'BEGIN { printf "> %.0fx", a / b }' ;;
        *">"*) awk -v a="$1" -v b="${2#*> }" 'BEGIN { printf "< %.4fx", a / b }' ;;
        *) awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }' ;;
    esac
}

gen_note="with a configMapGenerator"
$generator || gen_note="without the configMapGenerator (--no-generator)"
table=$(cat <<TABLE
| tool | objects | median wall ms | rekon/kubectl | 10x/1x |
|---|---:|---:|---:|---:|
| rekon | 1,200 | $r1 | $(ratio "$r1" "$k1") | |
| kubectl kustomize | 1,200 | $k1 | | |
| rekon | 12,000 | $r10 | $(ratio "$r10" "$k10") | $(ratio "$r10" "$r1") |
| kubectl kustomize | 12,000 | $k10 | | $(ratio "$k10" "$k1") |
TABLE
)
kversion=$(kubectl version --client | tr '\n' ' ' | sed 's/ $//')
echo "$runs runs each, $gen_note; $kversion"
echo
echo "$table"

if $record; then
    doc=$repo/docs/PERFORMANCE.md
    section=$(cat <<SECTION
## kustomize build (\`host/kustomize/bench.sh\`)

Rerun: \`host/kustomize/bench.sh --record$($generator || printf ' --no-generator')\` (release build of
\`host/kustomize/examples/build.rs\`; $runs runs of each tool, alternating,
median wall time including process start; $kversion). One
kustomization of 400 Deployments, 400 Services and 400 ConfigMaps (and 10x
that) with a namespace, a name prefix, labels with selectors, an image
override and one JSON 6902 patch targeting every Deployment, $gen_note.
Recorded $(date -u '+%Y-%m-%d %H:%M UTC').

$table
SECTION
)
    # Replace the section if present (up to the next "## " heading), else
    # append it.
    awk -v section="$section" '
        /^## kustomize build/ { print section; skip = 1; done = 1; next }
        skip && /^## / { skip = 0; print "" }
        !skip { print }
        END { if (!done) print "\n" section }
    ' "$doc" >"$work/doc" && cp "$work/doc" "$doc"
    echo "recorded in $doc"
fi
