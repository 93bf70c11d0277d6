package storagenode

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

const testShards = 10

func TestRoutes(t *testing.T) {
	tn := newTestNet(t, testShards, 2)
	node := tn.startNode(0, nil)
	enc, err := redstuff.New(testShards)
	if err != nil {
		t.Fatal(err)
	}
	e := testBlob(t, enc, 5000, 1)
	md := blob.NewMetadata(&e.Commitment)
	id := md.ID.String()
	owned, unowned := tn.ownedPairs(md.ID, 0)
	if len(owned) == 0 || unowned < 0 {
		t.Fatalf("node 0 owns pairs %v; need some owned and some not", owned)
	}
	p0 := owned[0]
	prim, sec := e.Pair(p0)

	// Before registration.
	expect(t, "metadata PUT unregistered", node.put(t, api.MetadataPath(id), metadataBody(t, e)), 400, api.ReasonNotRegistered)
	expect(t, "metadata GET unknown", node.get(t, api.MetadataPath(id)), 404, api.ReasonMetadataNotFound)
	expect(t, "confirmation unregistered", node.get(t, api.PermanentConfirmationPath(id)), 400, api.ReasonNotRegistered)
	r := node.get(t, api.BlobStatusPath(id))
	expect(t, "status unknown", r, 200, "")
	if !strings.Contains(string(r.body), `"data":"nonexistent"`) {
		t.Fatalf("status of unknown blob: %s", r.body)
	}
	expect(t, "sliver PUT unregistered", node.put(t, api.SliverPath(id, p0, "primary"), sliverBody(t, prim)), 400, api.ReasonNotRegistered)

	objID := tn.register(e, false)
	_ = objID
	node.waitApplied(t, tn.chain)

	// Metadata failures.
	expect(t, "metadata bad blob id", node.put(t, api.MetadataPath("xyz"), metadataBody(t, e)), 400, api.ReasonInvalidBlobID)
	expect(t, "metadata wrong content type", node.do(t, "PUT", api.MetadataPath(id), metadataBody(t, e), "text/plain"), 415, api.ReasonUnsupportedMedia)
	mb := metadataBody(t, e)
	expect(t, "metadata malformed", node.put(t, api.MetadataPath(id), mb[:len(mb)-5]), 400, api.ReasonMalformedBody)
	expect(t, "metadata oversize", node.put(t, api.MetadataPath(id), append(bytes.Clone(mb), make([]byte, 100)...)), 413, api.ReasonBodyTooLarge)
	bad := bytes.Clone(mb)
	bad[len(bad)-1] ^= 1 // a hash byte: the ID no longer matches
	expect(t, "metadata hash mismatch", node.put(t, api.MetadataPath(id), bad), 400, api.ReasonInvalidMetadata)
	expect(t, "metadata status before", node.get(t, api.MetadataStatusPath(id)), 200, "")

	// Sliver before metadata.
	expect(t, "sliver before metadata", node.put(t, api.SliverPath(id, p0, "primary"), sliverBody(t, prim)), 400, api.ReasonMetadataNotFound)

	expect(t, "metadata PUT", node.put(t, api.MetadataPath(id), mb), 201, "")
	expect(t, "metadata PUT again", node.put(t, api.MetadataPath(id), mb), 200, "")
	r = node.get(t, api.MetadataPath(id))
	expect(t, "metadata GET", r, 200, "")
	var got blob.MetadataWithID
	if err := got.UnmarshalBCS(r.body); err != nil || got.ID != md.ID {
		t.Fatalf("metadata GET: %v", err)
	}
	if r := node.get(t, api.MetadataStatusPath(id)); !strings.Contains(string(r.body), `"stored"`) {
		t.Fatalf("metadata status: %s", r.body)
	}

	// Sliver failures.
	expect(t, "sliver wrong pair", node.put(t, api.SliverPath(id, (p0+1)%testShards, "primary"), sliverBody(t, prim)), 400, api.ReasonSliverIndexMismatch)
	expect(t, "sliver wrong type", node.put(t, api.SliverPath(id, p0, "secondary"), sliverBody(t, prim)), 400, "")
	up, us := e.Pair(unowned)
	_ = us
	expect(t, "sliver unowned shard", node.put(t, api.SliverPath(id, unowned, "primary"), sliverBody(t, up)), 400, api.ReasonShardNotAssigned)
	corrupt := prim
	corrupt.Data = bytes.Clone(prim.Data)
	corrupt.Data[0] ^= 0xff
	expect(t, "sliver hash mismatch", node.put(t, api.SliverPath(id, p0, "primary"), sliverBody(t, corrupt)), 400, api.ReasonInvalidSliver)
	sb := sliverBody(t, prim)
	expect(t, "sliver malformed", node.put(t, api.SliverPath(id, p0, "primary"), sb[:len(sb)-3]), 400, api.ReasonMalformedBody)
	expect(t, "sliver pair out of range", node.put(t, api.SliverPath(id, testShards, "primary"), sb), 400, api.ReasonInvalidPairIndex)
	expect(t, "sliver bad type", node.put(t, api.SliverPath(id, p0, "tertiary"), sb), 400, api.ReasonInvalidSliverType)
	limit := int64(enc.Params().PrimarySliverLen(redstuff.MaxSymbolSize)) + api.SliverBodyHeadroom
	expect(t, "sliver oversize", node.put(t, api.SliverPath(id, p0, "primary"), make([]byte, limit+1)), 413, api.ReasonBodyTooLarge)
	expect(t, "sliver GET missing", node.get(t, api.SliverPath(id, p0, "primary")), 404, api.ReasonSliverNotFound)
	expect(t, "unknown blob sliver GET", node.get(t, api.SliverPath(blob.ID{1}.String(), p0, "primary")), 404, api.ReasonSliverNotFound)

	// Truncated body: the connection ends before Content-Length bytes.
	truncatedPut(t, node, api.SliverPath(id, p0, "primary"), sb)

	// Store one sliver, then confirmation is refused until every pair is in.
	expect(t, "sliver PUT", node.put(t, api.SliverPath(id, p0, "primary"), sb), 201, "")
	expect(t, "sliver PUT again", node.put(t, api.SliverPath(id, p0, "primary"), sb), 200, "")
	r = node.get(t, api.SliverPath(id, p0, "primary"))
	expect(t, "sliver GET", r, 200, "")
	if !bytes.Equal(r.body, sb) {
		t.Fatal("sliver GET returned other bytes")
	}
	if r := node.get(t, api.SliverStatusPath(id, p0, "primary")); !strings.Contains(string(r.body), `"stored"`) {
		t.Fatalf("sliver status: %s", r.body)
	}
	if r := node.get(t, api.SliverStatusPath(id, p0, "secondary")); !strings.Contains(string(r.body), `"nonexistent"`) {
		t.Fatalf("sliver status: %s", r.body)
	}
	expect(t, "confirmation with missing slivers", node.get(t, api.PermanentConfirmationPath(id)), 400, api.ReasonMissingSlivers)
	expect(t, "secondary PUT", node.put(t, api.SliverPath(id, p0, "secondary"), sliverBody(t, sec)), 201, "")
	node.upload(t, e, owned[1:])

	// Confirmation.
	r = node.get(t, api.PermanentConfirmationPath(id))
	expect(t, "confirmation", r, 200, "")
	checkConfirmation(t, r.body, tn.net.NodeKeys[0].PublicKey(), md.ID, protocol.Permanent)
	expect(t, "deletable confirmation of a permanent blob", node.get(t, api.DeletableConfirmationPath(id, objID.String())), 400, api.ReasonNotRegistered)
	expect(t, "deletable confirmation bad object", node.get(t, api.DeletableConfirmationPath(id, "0x12")), 400, api.ReasonInvalidObjectID)

	// Recovery symbols: by symbol ID and by target sliver; each verifies against the metadata.
	pSec := enc.Params().SliverIndex(redstuff.Secondary, p0)
	ids := []string{fmt.Sprintf("%d-%d", p0, 0), fmt.Sprintf("%d-%d", 3, pSec)}
	r = node.get(t, api.RecoverySymbolsPath(id, ids))
	expect(t, "recovery symbols by id", r, 200, "")
	checkSymbols(t, enc, md, r.body, 2)
	r = node.get(t, api.RecoverySymbolsForSliverPath(id, 0, "primary"))
	expect(t, "recovery symbols for a sliver", r, 200, "")
	checkSymbols(t, enc, md, r.body, len(owned))
	expect(t, "recovery symbols bad query", node.get(t, "/v1/blobs/"+id+"/recoverySymbols"), 400, api.ReasonInvalidQuery)
	upSec := enc.Params().SliverIndex(redstuff.Secondary, unowned)
	expect(t, "recovery symbols not held", node.get(t, api.RecoverySymbolsPath(id, []string{fmt.Sprintf("%d-%d", unowned, upSec)})), 404, api.ReasonSliverNotFound)
	expect(t, "recovery symbols unknown blob", node.get(t, api.RecoverySymbolsPath(blob.ID{2}.String(), ids)), 404, api.ReasonMetadataNotFound)

	// Status and health.
	r = node.get(t, api.BlobStatusPath(id))
	var st api.Success[api.BlobStatus]
	if err := json.Unmarshal(r.body, &st); err != nil || st.Success.Data.Permanent == nil || st.Success.Data.Permanent.IsCertified {
		t.Fatalf("blob status: %v %s", err, r.body)
	}
	r = node.get(t, api.RouteHealth+"?detailed=true")
	var h api.Success[api.ServiceHealthInfo]
	if err := json.Unmarshal(r.body, &h); err != nil || h.Success.Data.ShardSummary.Owned == 0 ||
		h.Success.Data.ShardDetail == nil || !h.Success.Data.SliverBatch || h.Success.Data.NodeStatus != "Active" {
		t.Fatalf("health: %v %s", err, r.body)
	}

	// Metrics on their own listener.
	resp, err := http.Get("http://" + node.MetricsAddr() + api.RouteMetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	mb2, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(mb2, []byte(`floe_node_slivers_total{outcome="stored"}`)) || !bytes.Contains(mb2, []byte("floe_node_confirmations_total")) {
		t.Fatalf("metrics lack node metrics:\n%s", mb2)
	}
}

// truncatedPut sends a request whose body is shorter than its Content-Length and checks the
// node answers TRUNCATED_BODY and stores nothing.
func truncatedPut(t *testing.T, node *testNode, path string, body []byte) {
	t.Helper()
	tr := node.client.Transport.(*http.Transport)
	cfg := tr.TLSClientConfig.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", node.Addr(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	half := body[:len(body)/2]
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", path, node.Addr(), len(body))
	conn.Write(half)
	if err := conn.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufioReader(conn), nil)
	if err != nil {
		t.Fatalf("truncated PUT: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	expect(t, "truncated body", response{resp.StatusCode, b}, 400, api.ReasonTruncatedBody)
}

func checkConfirmation(t *testing.T, body []byte, pk crypto.BLSPublicKey, id blob.ID, pt protocol.PersistenceType) {
	t.Helper()
	var c api.Success[api.Confirmation]
	if err := json.Unmarshal(body, &c); err != nil || c.Success.Data.Signed == nil {
		t.Fatalf("confirmation: %v %s", err, body)
	}
	sm := c.Success.Data.Signed
	conf, err := protocol.DecodeStorageConfirmation(sm.SerializedMessage)
	if err != nil || conf.BlobID != id || conf.Persistence != pt {
		t.Fatalf("confirmation message: %v %+v", err, conf)
	}
	var sig crypto.BLSSignature
	copy(sig[:], sm.Signature)
	if err := crypto.VerifyBLS(pk, sm.SerializedMessage, sig); err != nil {
		t.Fatalf("confirmation signature: %v", err)
	}
}

func checkSymbols(t *testing.T, enc *redstuff.Encoder, md *blob.MetadataWithID, body []byte, want int) {
	t.Helper()
	syms, err := blob.UnmarshalGeneralRecoverySymbols(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(syms) != want {
		t.Fatalf("got %d recovery symbols, want %d", len(syms), want)
	}
	for _, s := range syms {
		if err := blob.VerifyRecoverySymbol(enc, md, s); err != nil {
			t.Fatalf("recovery symbol %+v: %v", s, err)
		}
	}
}
