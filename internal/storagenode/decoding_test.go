package storagenode

import (
	"bytes"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/redstuff"
)

// TestDecodingSymbols: GET .../decodingSymbols answers, for each target sliver, one symbol per
// source sliver of the other axis the node holds, equal to the symbol the encoding gives, in
// Walrus's BCS map; bad queries get 400, an unknown blob 404. Health carries the
// control-plane height the node applied; /v1/api is the Redoc page over a document that names
// every route the node serves.
func TestDecodingSymbols(t *testing.T) {
	tn := newTestNet(t, testShards, 2)
	node := tn.startNode(0, nil)
	enc, err := redstuff.New(testShards)
	if err != nil {
		t.Fatal(err)
	}
	e := testBlob(t, enc, 5000, 3)
	md := blob.NewMetadata(&e.Commitment)
	id := md.ID.String()
	owned, _ := tn.ownedPairs(md.ID, 0)
	tn.register(e, false)
	node.waitApplied(t, tn.chain)
	node.upload(t, e, owned)

	for _, axis := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
		targets := []int{0, 1, testShards - 1}
		r := node.get(t, api.DecodingSymbolsPath(id, append(targets, 1), axis.String()))
		expect(t, "decoding symbols "+axis.String(), r, 200, "")
		var got blob.DecodingSymbols
		if err := got.UnmarshalBCS(r.body); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(targets) {
			t.Fatalf("%s: %d targets answered, want %d", axis, len(got), len(targets))
		}
		for _, target := range targets {
			syms := got[target]
			if len(syms) != len(owned) {
				t.Fatalf("%s target %d: %d symbols, the node holds %d source slivers", axis, target, len(syms), len(owned))
			}
			sources := map[int]bool{}
			for _, pair := range owned {
				prim, sec := e.Pair(pair)
				src := sec
				if axis == redstuff.Secondary {
					src = prim
				}
				want, err := enc.RecoverySymbols(src, []int{target})
				if err != nil {
					t.Fatal(err)
				}
				sources[want[0].SourceIndex] = true
				found := false
				for _, s := range syms {
					if s.Symbol.Index == want[0].SourceIndex {
						found = true
						if s.Target != axis || !bytes.Equal(s.Symbol.Data, want[0].Data) {
							t.Fatalf("%s target %d source %d: %+v, want data %x", axis, target, s.Symbol.Index, s, want[0].Data)
						}
					}
				}
				if !found {
					t.Fatalf("%s target %d: no symbol from source sliver %d", axis, target, want[0].SourceIndex)
				}
			}
			if len(sources) != len(owned) {
				t.Fatalf("source indexes %v", sources)
			}
		}
	}

	base := "/v1/blobs/" + id + "/decodingSymbols"
	for what, q := range map[string]string{
		"no targets":     "?targetType=primary",
		"no type":        "?targetSlivers=1",
		"bad type":       "?targetSlivers=1&targetType=diagonal",
		"bad index":      "?targetSlivers=x&targetType=primary",
		"index too big":  "?targetSlivers=10&targetType=primary",
		"unknown param":  "?targetSlivers=1&targetType=primary&proofAxis=primary",
		"negative index": "?targetSlivers=-1&targetType=primary",
	} {
		expect(t, what, node.get(t, base+q), 400, api.ReasonInvalidQuery)
	}
	expect(t, "unknown blob", node.get(t, api.DecodingSymbolsPath(blob.ID{9}.String(), []int{1}, "primary")), 404, api.ReasonMetadataNotFound)

	// Health: the height of the last event applied, at most the chain's.
	var height uint64
	tn.chain.View(func(s *controlplane.State, _ controlplane.Hash) { height = s.Height() })
	r := node.get(t, api.RouteHealth)
	var h api.Success[api.ServiceHealthInfo]
	if err := json.Unmarshal(r.body, &h); err != nil || h.Success.Data.LatestCheckpointSequenceNumber == nil {
		t.Fatalf("health: %v %s", err, r.body)
	}
	if got := *h.Success.Data.LatestCheckpointSequenceNumber; got == 0 || got > height || !strings.Contains(string(r.body), `"latestCheckpointSequenceNumber":`) {
		t.Fatalf("latestCheckpointSequenceNumber %d, chain height %d", got, height)
	}

	// The API page and its document.
	r = node.get(t, api.RouteAPIDocs)
	expect(t, "API page", r, 200, "")
	if !bytes.Contains(r.body, []byte("/v1/api/redoc.standalone.js")) {
		t.Fatalf("page: %s", r.body)
	}
	r = node.get(t, api.RouteAPIDocs+"/redoc.standalone.js")
	if r.code != 200 || len(r.body) < 100000 {
		t.Fatalf("bundle: %d, %d bytes", r.code, len(r.body))
	}
	r = node.get(t, api.RouteAPIDocs+"/openapi.json")
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("document: %v", err)
	}
	param := regexp.MustCompile(`\{[a-z_]+\}`)
	norm := func(s string) string { return param.ReplaceAllString(s, "{}") }
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+norm(path)] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range [][2]string{
		{"GET", api.RouteMetadata}, {"PUT", api.RouteMetadata}, {"GET", api.RouteMetadataStatus}, {"GET", api.RouteSliver},
		{"PUT", api.RouteSliver}, {"GET", api.RouteSliverStatus}, {"PUT", api.RouteSliverBatch}, {"GET", api.RoutePermanentConfirm},
		{"GET", api.RouteDeletableConfirm}, {"GET", api.RouteRecoverySymbols}, {"GET", api.RouteDecodingSymbols},
		{"POST", api.RouteInconsistencyProof}, {"GET", api.RouteBlobStatus}, {"GET", api.RouteHealth}, {"GET", api.RouteAPIDocs}, {"POST", api.RouteChallengeAnswer}, {"POST", api.RouteSyncShard},
	} {
		served[rt[0]+" "+norm(rt[1])] = true
	}
	var missing, extra []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("routes not documented %v; documented but not served %v", missing, extra)
	}
}
