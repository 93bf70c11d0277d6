#!/usr/bin/env bash
# Compares `floe blob-id` with Walrus's own encoder (@mysten/walrus-wasm, single-threaded wasm,
# through ../shared/tools/walrus-ref or $WALRUS_REF) on the same random file, in the same run:
# RUNS rounds, each timing both one after the other, so that both see the same machine load.
# Prints, per round and as the median, the wall and CPU (user + sys) seconds of each and the
# ratios wasm/floe, with the load average, and checks that both give the same blob ID.
#
#   scripts/blobid-vs-wasm.sh [SIZE_MIB=256] [SHARDS=1000] [RUNS=3]
#
# Needs node and npm (runs `npm ci` in the harness if its node_modules is missing, in a temporary
# copy of it if its directory is read-only).
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-256}
shards=${2:-1000}
runs=${3:-3}
ref=${WALRUS_REF:-$(cd .. && pwd)/shared/tools/walrus-ref}

command -v node >/dev/null || { echo "blobid-vs-wasm: node is not installed: cannot run Walrus's encoder" >&2; exit 2; }
[ -f "$ref/blobid.mjs" ] || { echo "blobid-vs-wasm: no Walrus harness at $ref (set WALRUS_REF)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/blobid-vs-wasm.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ ! -d "$ref/node_modules/@mysten/walrus-wasm" ]; then
  # The harness may sit in a read-only directory (../shared): install into a copy of it.
  if [ ! -w "$ref" ]; then
    cp -r "$ref" "$work/walrus-ref"
    ref=$work/walrus-ref
  fi
  (cd "$ref" && npm ci --silent)
fi
go build -o "$work/floe" ./cmd/floe
head -c "$((size_mib << 20))" /dev/urandom >"$work/blob"
cat "$work/blob" >/dev/null # into the page cache before either reads it

# timed OUT CMD...: runs CMD with stdout to OUT; prints "wall cpu" (cpu = user + sys, children
# included).
timed() {
  local out=$1 t
  shift
  t=$({ TIMEFORMAT='%R %U %S'; time "$@" >"$out"; } 2>&1 | tail -1)
  awk '{ printf "%.2f %.2f\n", $1, $2 + $3 }' <<<"$t"
}

echo "floe blob-id vs Walrus wasm: ${size_mib} MiB, n = $shards, $runs rounds, $(nproc) cores"
ratios_wall=()
ratios_cpu=()
for i in $(seq "$runs"); do
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  read -r fw fc < <(timed "$work/floe.out" "$work/floe" blob-id --n-shards "$shards" --json "$work/blob")
  read -r ww wc < <(timed "$work/wasm.out" node "$ref/blobid.mjs" --shards "$shards" "$work/blob")
  fid=$(grep -o '"blobId": *"[^"]*"' "$work/floe.out" | sed 's/.*"\([^"]*\)"$/\1/')
  wid=$(grep -o '"blob_id": *"[^"]*"' "$work/wasm.out" | sed 's/.*"\([^"]*\)"$/\1/')
  if [ -z "$fid" ] || [ "$fid" != "$wid" ]; then
    echo "blob IDs differ: floe '$fid', wasm '$wid'" >&2
    exit 1
  fi
  rw=$(awk -v a="$ww" -v b="$fw" 'BEGIN { printf "%.1f", a / b }')
  rc=$(awk -v a="$wc" -v b="$fc" 'BEGIN { printf "%.1f", a / b }')
  ratios_wall+=("$rw")
  ratios_cpu+=("$rc")
  echo "round $i (load $load): floe wall ${fw}s cpu ${fc}s | wasm wall ${ww}s cpu ${wc}s | wasm/floe wall ${rw}x cpu ${rc}x"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "median wasm/floe: wall $(median "${ratios_wall[@]}")x, cpu $(median "${ratios_cpu[@]}")x (load now $(cut -d' ' -f1-3 /proc/loadavg))"
