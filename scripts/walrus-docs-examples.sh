#!/usr/bin/env bash
# Runs the CLI and curl examples of Walrus's documentation against a Floe network, with only
# the binary name changed (walrus -> $FLOE). The pages (MystenLabs/walrus docs/content/):
#   walrus-client/storing-blobs.mdx, reading-blobs.mdx, managing-blobs.mdx, json-mode.mdx,
#   walrus-cli.mdx; http-api/storing-blobs.mdx, reading-blobs.mdx, streaming-media.mdx;
#   operator-guide/publishers/operating-publisher.mdx, aggregators/operating-aggregator.mdx
# Placeholders (<BLOB_ID>, <FILE>, ...) are filled with what earlier examples made. Where Floe
# deliberately differs (the README's table), the example is run and its refusal is checked.
#
# Environment:
#   FLOE        the floe binary (default: floe)
#   CONFIG      a client_config.yaml (default: the one the CLI finds by itself); it is made
#               the configuration of $XDG_CONFIG_HOME/floe/, so no example names it
#   PUBLISHER   the publisher's URL, AGGREGATOR the aggregator's (default http://127.0.0.1:31415)
#   DAEMON_ADDR a free host:port for the examples that start a publisher or an aggregator
#               (default: the docs' 127.0.0.1:31416)
# Needs bash, curl and jq. Prints "ok: ..." per example and "N passed, 0 failed" at the end;
# exits non-zero on the first example that does not behave.
set -euo pipefail

FLOE=${FLOE:-floe}
PUBLISHER=${PUBLISHER:-http://127.0.0.1:31415}
AGGREGATOR=${AGGREGATOR:-$PUBLISHER}
DAEMON_ADDR=${DAEMON_ADDR:-127.0.0.1:31416}
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "walrus-docs-examples: needs $tool" >&2; exit 2; }
done

work=$(mktemp -d -t floe-walrus-docs-XXXXXX)
daemon_pid=""
cleanup() {
  if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
if [ -n "${CONFIG:-}" ]; then
  mkdir -p "$work/xdg/floe"
  cp "$CONFIG" "$work/xdg/floe/client_config.yaml"
  # The configuration's wallet path may be relative to its directory.
  sed -i "s#^wallet: \"\\?\\([^/\"][^\"]*\\)\"\\?#wallet: \"$(dirname "$CONFIG")/\\1\"#" "$work/xdg/floe/client_config.yaml"
  export XDG_CONFIG_HOME="$work/xdg"
fi

passed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
# run DESCRIPTION CMD...: the example must succeed.
run() { local d=$1; shift; "$@" > "$work/out" 2> "$work/err" || { cat "$work/err" >&2; fail "$d: exit $?"; }; ok "$d"; }
# refused DESCRIPTION PATTERN CMD...: a documented difference: the example must fail, saying PATTERN.
refused() {
  local d=$1 pat=$2; shift 2
  if "$@" > "$work/out" 2> "$work/err"; then fail "$d: expected a refusal"; fi
  grep -q -- "$pat" "$work/err" || { cat "$work/err" >&2; fail "$d: the refusal does not say \"$pat\""; }
  ok "$d (refused, as documented: $pat)"
}
json() { jq -e "$1" "$work/out" > /dev/null || { cat "$work/out" >&2; fail "output does not satisfy $1"; }; }

echo "hello from the walrus docs" > hello.txt
head -c 20000 /dev/urandom > a.png
head -c 30000 /dev/urandom > b.png
cp hello.txt README.md
echo "licence text" > LICENSE
mkdir -p some
head -c 5000 /dev/urandom > some/file

# ---- walrus-client/walrus-cli.mdx
run "walrus --help" "$FLOE" --help
run "walrus info" "$FLOE" info
run "walrus completion" "$FLOE" completion --shell bash

# ---- walrus-client/storing-blobs.mdx
run "walrus store <FILES> --epochs <EPOCHS>" "$FLOE" store hello.txt --epochs 2
run "walrus store *.png --epochs <EPOCHS>" "$FLOE" store *.png --epochs 2
run "--epochs max" "$FLOE" store some/file --epochs max
current=$("$FLOE" info epoch --json | jq -r .currentEpoch)
run "--end-epoch <END_EPOCH>" "$FLOE" store some/file --end-epoch $((current + 3))
run "--earliest-expiry-time (RFC 3339)" "$FLOE" store some/file --earliest-expiry-time "$(date -u -d '+2 hours' +%Y-%m-%dT%H:%M:%SZ)"
run "--earliest-expiry-time (relaxed)" "$FLOE" store some/file --earliest-expiry-time "$(date -u -d '+2 hours' '+%Y-%m-%d %H:%M:%S')"
refused "a mandatory lifetime" "exactly one of --epochs" "$FLOE" store some/file
run "--deletable" "$FLOE" store some/file --epochs 1 --deletable
run "--permanent" "$FLOE" store some/file --epochs 1 --permanent
run "--force" "$FLOE" store some/file --epochs 1 --force
refused "--upload-relay" "upload relay" "$FLOE" store some/file --epochs 1 --upload-relay https://relay.example

# ---- walrus-client/json-mode.mdx
run "walrus json store (README.md, LICENSE)" "$FLOE" json '{
        "command": {
            "store": {
                "files": ["README.md", "LICENSE"],
                "epochs": 5
            }
        }
    }'
json 'length == 2 and .[0].path == "README.md"'
BLOB_ID=$("$FLOE" json '{"command": {"store": {"files": ["README.md"], "epochs": 5}}}' \
    | jq -r '.[0].blobStoreResult.alreadyCertified.blobId // .[0].blobStoreResult.newlyCreated.blobObject.blobId')
[ -n "$BLOB_ID" ] && [ "$BLOB_ID" != null ] || fail "json store | jq: no blob ID"
ok "walrus json store | jq -r .[0].blobStoreResult...blobId"
run "walrus json read to blob.bin" "$FLOE" json "{
        \"command\": {
            \"read\": {
                \"blobId\": \"$BLOB_ID\",
                \"out\": \"blob.bin\"
            }
        }
    }"
cmp -s blob.bin README.md || fail "json read: blob.bin differs"
json '.blobId and (has("blob") | not)'
echo "{
    \"command\": {
        \"read\": {
            \"blobId\": \"$BLOB_ID\"
        }
    }
}" | "$FLOE" json > "$work/out" || fail "json from stdin"
[ "$(jq -r .blob "$work/out" | base64 -d)" = "$(cat README.md)" ] || fail "json read: base64 blob"
ok "echo ... | walrus json (read, blob in base64)"
refused "walrus json with an unknown key" "not defined" "$FLOE" json '{"command": {"store": {"files": ["a"], "epochs": 1, "bogus": 1}}}'

# ---- walrus-client/reading-blobs.mdx
HELLO_ID=$("$FLOE" blob-id hello.txt --json | jq -r .blobId)
run "walrus blob-status --blob-id <BLOB_ID>" "$FLOE" blob-status --blob-id "$HELLO_ID"
run "walrus blob-status --file <FILE>" "$FLOE" blob-status --file hello.txt
run "walrus blob-status ... --timeout 5s" "$FLOE" blob-status --file hello.txt --timeout 5s
run "walrus read <BLOB_ID>" "$FLOE" read "$HELLO_ID"
cmp -s "$work/out" hello.txt || fail "read to stdout differs"
run "walrus read <BLOB_ID> --out <FILE>" "$FLOE" read "$HELLO_ID" --out out.txt
cmp -s out.txt hello.txt || fail "read --out differs"
CP_URL=$(grep -o 'control_plane_url: *"\?[^"]*' "${XDG_CONFIG_HOME:-$HOME/.config}/floe/client_config.yaml" 2>/dev/null | sed 's/control_plane_url: *"\?//' || true)
if [ -n "$CP_URL" ]; then run "walrus read --rpc-url <URL>" "$FLOE" read "$HELLO_ID" --rpc-url "$CP_URL"; fi
run "walrus read --json" "$FLOE" read "$HELLO_ID" --json
json ".blobId == \"$HELLO_ID\" and (.blob | @base64d) == \"hello from the walrus docs\n\""
rm -f out.txt
run "walrus read --strict-consistency-check" "$FLOE" read "$HELLO_ID" --out out.txt --strict-consistency-check
cmp -s out.txt hello.txt || fail "read --strict-consistency-check differs"
run "walrus read --skip-consistency-check" "$FLOE" read "$HELLO_ID" --skip-consistency-check
cmp -s "$work/out" hello.txt || fail "read --skip-consistency-check differs"
refused "both consistency flags" "cannot be used together" "$FLOE" read "$HELLO_ID" --strict-consistency-check --skip-consistency-check

# ---- walrus-client/managing-blobs.mdx
head -c 7000 /dev/urandom > managed.bin
"$FLOE" store managed.bin --epochs 2 --json > "$work/out"
OBJ=$(jq -r '.[0].blobStoreResult.newlyCreated.blobObject.id' "$work/out")
MID=$(jq -r '.[0].blobStoreResult.newlyCreated.blobObject.blobId' "$work/out")
run "walrus blob-status --blob-id <BLOB_ID> (managed)" "$FLOE" blob-status --blob-id "$MID"
run "walrus extend --blob-obj-id <BLOB_OBJECT_ID>" "$FLOE" extend --blob-obj-id "$OBJ"
run "walrus extend --epochs-extended" "$FLOE" extend --blob-obj-id "$OBJ" --epochs-extended 2
refused "walrus extend --shared on an owned blob" "not shared" "$FLOE" extend --blob-obj-id "$OBJ" --shared
run "walrus set-blob-attribute <ID> --attr key value" "$FLOE" set-blob-attribute "$OBJ" --attr "key" "value"
run "walrus set-blob-attribute --attr key1 value1 --attr key2 value2" "$FLOE" set-blob-attribute "$OBJ" --attr "key1" "value1" --attr "key2" "value2"
run "walrus get-blob-attribute <ID>" "$FLOE" get-blob-attribute "$OBJ"
grep -q "key1: value1" "$work/out" || fail "get-blob-attribute: no key1"
run "walrus remove-blob-attribute-fields <ID> --keys key1" "$FLOE" remove-blob-attribute-fields "$OBJ" --keys "key1"
"$FLOE" get-blob-attribute "$OBJ" --json > "$work/out"
json '[.attribute.metadata.contents[].key] == ["key", "key2"]'
run "walrus remove-blob-attribute <ID>" "$FLOE" remove-blob-attribute "$OBJ"
"$FLOE" get-blob-attribute "$OBJ" --json > "$work/out"
json '.attribute == null'
refused "walrus share of a deletable blob" "deletable blobs cannot be shared" "$FLOE" share --blob-obj-id "$OBJ"
head -c 6500 /dev/urandom > shared.bin
SOBJ=$("$FLOE" store shared.bin --epochs 2 --permanent --json | jq -r '.[0].blobStoreResult.newlyCreated.blobObject.id')
run "walrus share --blob-obj-id <SUI_OBJ_ID>" "$FLOE" share --blob-obj-id "$SOBJ"
run "walrus fund-shared-blob" "$FLOE" fund-shared-blob --shared-blob-obj-id "$SOBJ" --amount 1000
run "walrus extend --blob-obj-id <ID> --shared" "$FLOE" extend --blob-obj-id "$SOBJ" --shared
head -c 6600 /dev/urandom > shared2.bin
run "walrus share --blob-obj-id --amount" "$FLOE" share --amount 500 --blob-obj-id "$("$FLOE" store shared2.bin --epochs 2 --permanent --json | jq -r '.[0].blobStoreResult.newlyCreated.blobObject.id')"
run "walrus store --share (with --permanent)" "$FLOE" store shared2.bin --epochs 2 --permanent --share --force --json
json '.[0].blobStoreResult.newlyCreated.sharedBlobObject'
refused "walrus store --share of a deletable blob" "deletable blobs cannot be shared" "$FLOE" store shared2.bin --epochs 2 --share
run "walrus delete --blob-id <BLOB_ID> (answering no)" sh -c "echo n | \"$FLOE\" delete --blob-id $MID"
grep -q "aborted" "$work/out" || fail "delete: no abort"
run "walrus delete --blob-id <BLOB_ID> (answering yes)" sh -c "echo y | \"$FLOE\" delete --blob-id $MID"
"$FLOE" blob-status --blob-id "$MID" --json > "$work/out"
json '.status == "nonexistent"'
head -c 6000 /dev/urandom > del.bin
"$FLOE" store del.bin --epochs 1 > /dev/null
run "walrus delete --file <PATH> --yes" "$FLOE" delete --file del.bin --yes
"$FLOE" store del.bin --epochs 1 --json > "$work/out"
DOBJ=$(jq -r '.[0].blobStoreResult.newlyCreated.blobObject.id' "$work/out")
run "walrus delete --object-id <SUI_ID> --no-status-check" "$FLOE" delete --object-id "$DOBJ" --no-status-check
"$FLOE" store del.bin --epochs 1 --permanent --json > "$work/out"
BOBJ=$(jq -r '.[0].blobStoreResult.newlyCreated.blobObject.id' "$work/out")
run "walrus burn-blobs --object-ids <BLOB_OBJECT_ID>" sh -c "echo y | \"$FLOE\" burn-blobs --object-ids $BOBJ"
run "walrus burn-blobs --all-expired" "$FLOE" burn-blobs --all-expired --yes
# The lifecycle example.
run "lifecycle: walrus store <FILE> --epochs <EPOCHS>" "$FLOE" store managed.bin --epochs 3
run "lifecycle: walrus blob-status" "$FLOE" blob-status --blob-id "$MID"
LOBJ=$("$FLOE" list-blobs --json | jq -r "[.[] | select(.blobId == \"$MID\")][0].id")
run "lifecycle: walrus extend" "$FLOE" extend --blob-obj-id "$LOBJ"
run "lifecycle: walrus delete --blob-id" "$FLOE" delete --blob-id "$MID" --yes
run "walrus list-blobs" "$FLOE" list-blobs
run "walrus list-blobs --include-expired" "$FLOE" list-blobs --include-expired

# ---- http-api/storing-blobs.mdx
run 'curl -X PUT "$PUBLISHER/v1/blobs" -d "some string"' curl -sf -X PUT "$PUBLISHER/v1/blobs" -d "some string"
json '.newlyCreated.blobObject.blobId or .alreadyCertified.blobId'
run 'curl -X PUT "$PUBLISHER/v1/blobs" --upload-file "some/file"' curl -sf -X PUT "$PUBLISHER/v1/blobs" --upload-file "some/file"
run 'curl ... "$PUBLISHER/v1/blobs?epochs=5"' curl -sf -X PUT "$PUBLISHER/v1/blobs?epochs=5" --upload-file "some/file"
run 'curl ... "$PUBLISHER/v1/blobs?deletable=true"' curl -sf -X PUT "$PUBLISHER/v1/blobs?deletable=true" --upload-file "some/file"
run 'curl ... "$PUBLISHER/v1/blobs?permanent=true"' curl -sf -X PUT "$PUBLISHER/v1/blobs?permanent=true" --upload-file "some/file"
ADDRESS=0x$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
run 'curl ... "$PUBLISHER/v1/blobs?send_object_to=$ADDRESS"' curl -sf -X PUT "$PUBLISHER/v1/blobs?send_object_to=$ADDRESS&force=true" --upload-file "some/file"
run 'curl ... "$PUBLISHER/v1/blobs?permanent=true&share=true"' curl -sf -X PUT "$PUBLISHER/v1/blobs?permanent=true&share=true&force=true" --upload-file "some/file"
json '.newlyCreated.sharedBlobObject'
run 'curl -X PUT "$PUBLISHER/v1/blobs" -d "some other string"' curl -sf -X PUT "$PUBLISHER/v1/blobs" -d "some other string"
json '.newlyCreated.blobObject | has("id") and has("registeredEpoch") and has("blobId") and has("size") and has("encodingType") and has("certifiedEpoch") and has("storage") and has("deletable")'
json '.newlyCreated.resourceOperation.registerFromScratch.encodedLength and (.newlyCreated.cost | type == "number")'
HTTP_ID=$(jq -r .newlyCreated.blobObject.blobId "$work/out")
run "an already certified blob" curl -sf -X PUT "$PUBLISHER/v1/blobs" -d "some other string"
json ".alreadyCertified.blobId == \"$HTTP_ID\" and (.alreadyCertified.endEpoch | type == \"number\")"

# ---- http-api/reading-blobs.mdx
run 'curl "$AGGREGATOR/v1/blobs/<BLOB_ID>" -o <FILE_NAME>' curl -sf "$AGGREGATOR/v1/blobs/$HELLO_ID" -o read.txt
cmp -s read.txt hello.txt || fail "GET -o differs"
run 'curl "$AGGREGATOR/v1/blobs/<BLOB_ID>"' curl -sf "$AGGREGATOR/v1/blobs/$HTTP_ID"
[ "$(cat "$work/out")" = "some other string" ] || fail "GET printed $(cat "$work/out")"
head -c 4000 /dev/urandom > attr.bin
AOBJ=$("$FLOE" store attr.bin --epochs 1 --json | jq -r '.[0].blobStoreResult.newlyCreated.blobObject.id')
"$FLOE" set-blob-attribute "$AOBJ" --attr content-type text/plain --attr content-disposition 'attachment; filename="managed.bin"' > /dev/null
run 'curl "$AGGREGATOR/v1/blobs/by-object-id/<OBJECT_ID>" -o <FILE_NAME>' curl -sf -D headers.txt "$AGGREGATOR/v1/blobs/by-object-id/$AOBJ" -o byobj.bin
cmp -s byobj.bin attr.bin || fail "by-object-id differs"
grep -qi '^content-disposition: attachment; filename="managed.bin"' headers.txt || fail "by-object-id: no content-disposition from the attribute"
run "?strict_consistency_check=true" curl -sSf "$AGGREGATOR/v1/blobs/$HELLO_ID?strict_consistency_check=true"
cmp -s "$work/out" hello.txt || fail "GET ?strict_consistency_check=true differs"
run "?skip_consistency_check=true" curl -sSf "$AGGREGATOR/v1/blobs/$HELLO_ID?skip_consistency_check=true"
cmp -s "$work/out" hello.txt || fail "GET ?skip_consistency_check=true differs"

# ---- http-api/streaming-media.mdx
head -c 300000 /dev/urandom > video.bin
VID=$("$FLOE" store video.bin --epochs 2 --json | jq -r '.[0].blobStoreResult.newlyCreated.blobObject.blobId')
run 'curl -H "Range: bytes=0-999" "$AGGREGATOR/v1/blobs/<BLOB_ID>"' curl -sf -D headers.txt -H "Range: bytes=0-999" "$AGGREGATOR/v1/blobs/$VID"
cmp -s "$work/out" <(head -c 1000 video.bin) || fail "Range differs"
grep -qi '^HTTP/1.1 206' headers.txt || fail "Range: not 206"
run 'curl "$AGGREGATOR/v1/blobs/<BLOB_ID>/byte-range?start=0&length=1024"' curl -sf -D headers.txt "$AGGREGATOR/v1/blobs/$VID/byte-range?start=0&length=1024"
cmp -s "$work/out" <(head -c 1024 video.bin) || fail "byte-range differs"
grep -qi "^etag: $VID-0-1024" headers.txt || fail "byte-range: ETag"

# ---- operator-guide/aggregators/operating-aggregator.mdx (large files: slices and concat)
head -c 250000 /dev/urandom > large_file.bin
split -b 100000 large_file.bin chunk_
ids=()
for chunk in chunk_*; do
  ids+=("$("$FLOE" store --epochs 5 "$chunk" --json | jq -r '.[0].blobStoreResult.newlyCreated.blobObject.blobId // .[0].blobStoreResult.alreadyCertified.blobId')")
done
ok "walrus store --epochs 5 each slice (walrus-store-sliced.sh)"
joined=$(IFS=,; echo "${ids[*]}")
run "GET /v1alpha/blobs/concat?ids=..." curl -sf "$AGGREGATOR/v1alpha/blobs/concat?ids=$joined"
cmp -s "$work/out" large_file.bin || fail "concat GET differs"
run "POST /v1alpha/blobs/concat" curl -sf -X POST -H 'Content-Type: application/json' \
    -d "$(printf '%s\n' "${ids[@]}" | jq -R . | jq -s '{ids: .}')" "$AGGREGATOR/v1alpha/blobs/concat"
cmp -s "$work/out" large_file.bin || fail "concat POST differs"
run "GET /v1alpha/blobs/<BLOB_ID>/stream" curl -sf "$AGGREGATOR/v1alpha/blobs/$VID/stream"
cmp -s "$work/out" video.bin || fail "stream differs"
run "the API page at /v1/api" curl -sf "$AGGREGATOR/v1/api"
grep -q redoc "$work/out" || fail "/v1/api is not the Redoc page"

# wait_up URL: waits until a started daemon answers /status.
wait_up() {
  for _ in $(seq 1 300); do
    curl -sf "$1/status" > /dev/null 2>&1 && return 0
    kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon exited: $(tail -5 "$work/daemon.log")"
    sleep 0.1
  done
  fail "the daemon at $1 did not answer"
}
stop_daemon() { kill "$daemon_pid"; wait "$daemon_pid" 2>/dev/null || true; daemon_pid=""; }

# walrus aggregator --bind-address "127.0.0.1:31415" (on DAEMON_ADDR)
"$FLOE" aggregator --bind-address "$DAEMON_ADDR" --metrics-address off > "$work/daemon.log" 2>&1 &
daemon_pid=$!
wait_up "http://$DAEMON_ADDR"
run "walrus aggregator: GET /v1/blobs/<BLOB_ID>" curl -sf "http://$DAEMON_ADDR/v1/blobs/$HELLO_ID"
cmp -s "$work/out" hello.txt || fail "aggregator read differs"
stop_daemon
ok "walrus aggregator --bind-address ..."

# ---- operator-guide/publishers/operating-publisher.mdx
PUBLISHER_WALLETS_DIR=$work/config/walrus/publisher-wallets
mkdir -p "$PUBLISHER_WALLETS_DIR"
"$FLOE" publisher \
  --bind-address "$DAEMON_ADDR" \
  --sub-wallets-dir "$PUBLISHER_WALLETS_DIR" \
  --n-clients 1 --metrics-address off > "$work/daemon.log" 2>&1 &
daemon_pid=$!
wait_up "http://$DAEMON_ADDR"
run "walrus publisher --sub-wallets-dir ... --n-clients 1: PUT" curl -sf -X PUT "http://$DAEMON_ADDR/v1/blobs?epochs=1" -d "from the publisher"
json '.newlyCreated.blobObject.blobId'
[ -f "$PUBLISHER_WALLETS_DIR/sub-wallet-0.json" ] || fail "no sub-wallet in $PUBLISHER_WALLETS_DIR"
stop_daemon
ok "walrus publisher --bind-address ... --sub-wallets-dir ... --n-clients 1"
# Replace publisher with daemon (aggregator and publisher on one address).
"$FLOE" daemon --bind-address "$DAEMON_ADDR" --sub-wallets-dir "$PUBLISHER_WALLETS_DIR" --n-clients 1 --metrics-address off > "$work/daemon.log" 2>&1 &
daemon_pid=$!
wait_up "http://$DAEMON_ADDR"
D_ID=$(curl -sf -X PUT "http://$DAEMON_ADDR/v1/blobs?epochs=1" -d "from the daemon" | jq -r '.newlyCreated.blobObject.blobId')
run "walrus daemon: PUT then GET" curl -sf "http://$DAEMON_ADDR/v1/blobs/$D_ID"
[ "$(cat "$work/out")" = "from the daemon" ] || fail "daemon read differs"
stop_daemon

echo "$passed passed, 0 failed"
