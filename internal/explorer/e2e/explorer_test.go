package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/devnet"
	"github.com/floelabs/floe/internal/nodetls"
	"github.com/floelabs/floe/internal/protocol"
)

// hostileName is the name of a node registered to check that the explorer escapes what
// operators register.
const hostileName = `<script>document.title="pwned"</script><b>evil</b>`

// registerHostileNode registers a storage node named hostileName (at an address where nothing
// listens) with the devnet's wallet.
func registerHostileNode(t testing.TB, n *devnet.Network) {
	t.Helper()
	info := n.Info()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wallet, err := client.LoadWallet(info.Wallet)
	if err != nil {
		t.Fatal(err)
	}
	bls, err := crypto.GenerateBLSKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	netKey, err := nodetls.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := nodetls.PublicKeyBytes(&netKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	cp := cpclient.New(info.ControlPlane, nil)
	ci, err := cp.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cp.Execute(ctx, ci.Params.ChainID, wallet, cpapi.Op{RegisterNode: &cpapi.RegisterNodeOp{
		Name: hostileName, NetworkAddress: "127.0.0.1:1", NetworkPublicKey: pub, BLSPublicKey: cpapi.BLSPublicKey(bls.PublicKey()),
		ProofOfPossession: cpapi.BLSSignature(protocol.SignProofOfPossession(bls, wallet.Address(), ci.Epoch)),
		Commission:        100, StoragePrice: 10, WritePrice: 5, Capacity: 1 << 40}})
	if err != nil {
		t.Fatalf("registering the hostile node: %v", err)
	}
}

// TestExplorerHTTP reads the explorer of a devnet (4 nodes, 40 shards) over HTTP: the root
// leads to it; it counts the nodes (the committee and a node registered outside it with a
// hostile name, shown escaped and down); a stored blob is found by its blob ID, its object ID
// and its owner, with all 40 shards readable; a killed node is shown down, and the blob then
// readable from 30 shards; the charts get samples of the daemon's stores and reads.
func TestExplorerHTTP(t *testing.T) {
	n := startNet(t, 4, 40)
	info := n.Info()
	x := info.Explorer
	if x != info.Daemon+"/explorer/" {
		t.Fatalf("devnet.json explorer %q", x)
	}
	resp, _ := get(t, info.Daemon+"/")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/explorer/" {
		t.Fatalf("GET / on the daemon: %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	resp, page := get(t, x)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("explorer: %s", resp.Status)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("the explorer's page has no %s header", h)
		}
	}
	if strings.Contains(resp.Header.Get("Content-Security-Policy"), "unsafe") || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("explorer headers: CSP %q, CORS %q", resp.Header.Get("Content-Security-Policy"), resp.Header.Get("Access-Control-Allow-Origin"))
	}
	if !strings.Contains(page, `<span id="node-count">4</span>`) {
		t.Errorf("the overview does not count 4 nodes:\n%s", page)
	}

	registerHostileNode(t, n)
	waitFor(t, "the explorer lists 5 nodes, 4 up", func() (bool, string) {
		s := snapshot(t, x)
		up := 0
		for _, nd := range s.Nodes {
			if nd.Up {
				up++
			}
		}
		return len(s.Nodes) == 5 && up == 4, fmt.Sprintf("%d nodes, %d up", len(s.Nodes), up)
	})
	s := snapshot(t, x)
	h := nodeByName(s, hostileName)
	if h == nil || h.InCommittee || h.Up || h.Status != "down" {
		t.Fatalf("the node registered outside the committee: %+v", h)
	}
	for _, nd := range s.Nodes[:4] {
		if !nd.InCommittee || nd.Stake == 0 || len(nd.Shards) != 10 || nd.Status != "Active" || nd.ShardStatus.Ready != 10 || !nd.DiskBytes.Known() {
			t.Errorf("committee node %s: %+v", nd.Name, nd)
		}
	}
	if s.Chain == nil || s.Chain.NShards != 40 || s.Chain.CommitteeSize != 4 || s.Chain.RegisteredNodes != 5 || s.Chain.CostExample == nil {
		t.Errorf("chain: %+v", s.Chain)
	}
	_, page = get(t, x)
	if strings.Contains(page, hostileName) || !strings.Contains(page, "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;&lt;b&gt;evil&lt;/b&gt;") {
		t.Errorf("the hostile node's name is not escaped on the overview")
	}

	// A stored blob, found three ways.
	blobData := []byte(strings.Repeat("floe explorer ", 40000))
	b := storeBlob(t, info.Daemon, blobData)
	resp, _ = get(t, x+"search?q="+b.BlobID)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/explorer/blob/"+b.BlobID {
		t.Fatalf("search by blob ID: %s → %q", resp.Status, resp.Header.Get("Location"))
	}
	_, page = get(t, x+"blob/"+b.BlobID)
	for _, want := range []string{b.BlobID, `id="blob-status" class="status-deletable">deletable`, `<b id="readable-count">40</b> of 40 shards`, "certified", b.ObjectID[:10]} {
		if !strings.Contains(page, want) {
			t.Errorf("blob page lacks %q", want)
		}
	}
	resp, _ = get(t, x+"search?q="+b.ObjectID)
	if resp.Header.Get("Location") != "/explorer/object/"+b.ObjectID {
		t.Fatalf("search by object ID → %q", resp.Header.Get("Location"))
	}
	_, page = get(t, x+"object/"+b.ObjectID)
	if !strings.Contains(page, b.BlobID) {
		t.Errorf("object page does not name its blob")
	}
	publisher, err := client.LoadWallet(strings.TrimSuffix(info.Wallet, "wallet.key") + "publisher.key")
	if err != nil {
		t.Fatal(err)
	}
	owner := publisher.Address().String()
	resp, _ = get(t, x+"search?q="+owner)
	if resp.Header.Get("Location") != "/explorer/owner/"+owner {
		t.Fatalf("search by owner → %q", resp.Header.Get("Location"))
	}
	_, page = get(t, x+"owner/"+owner)
	if !strings.Contains(page, "Blobs (1)") || !strings.Contains(page, "/explorer/blob/"+b.BlobID) {
		t.Errorf("owner page does not list the publisher's blob")
	}
	resp, page = get(t, x+"search?q=not-a-blob")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "not a blob ID") {
		t.Errorf("a bad search: %s", resp.Status)
	}
	resp, _ = get(t, x+"blob/"+strings.Repeat("A", 43))
	if resp.StatusCode != http.StatusOK {
		t.Errorf("an unknown blob ID: %s", resp.Status)
	}

	// Reads through the daemon show in the history.
	for range 3 {
		resp, _ := get(t, info.Daemon+"/v1/blobs/"+b.BlobID)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("read: %s", resp.Status)
		}
	}
	waitFor(t, "the history has read and store rates, latencies and node traffic", func() (bool, string) {
		_, body := get(t, x+"api/history")
		var hist struct {
			Points []map[string]json.RawMessage `json:"points"`
		}
		if err := json.Unmarshal([]byte(body), &hist); err != nil {
			return false, err.Error()
		}
		seen := map[string]bool{}
		for _, p := range hist.Points {
			for k, raw := range p {
				var v *float64
				if json.Unmarshal(raw, &v) == nil && v != nil && *v > 0 {
					seen[k] = true
				}
			}
		}
		return seen["readRate"] && seen["storeRate"] && seen["readP50"] && seen["storeP50"] && seen["nodeInRate"] && seen["nodeOutRate"] && seen["storedBytes"],
			fmt.Sprint(seen)
	})

	// A killed node is shown down, and the blob readable from the other 30 shards.
	if err := n.Node(2).Kill(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node-02 shown down", func() (bool, string) {
		nd := nodeByName(snapshot(t, x), "node-02")
		return nd != nil && !nd.Up && nd.Status == "down", fmt.Sprintf("%+v", nd)
	})
	_, page = get(t, x)
	if !strings.Contains(page, `<tr class="node down" data-node="node-02">`) || !strings.Contains(page, `<span id="nodes-up">3</span>`) {
		t.Errorf("the overview does not show node-02 down")
	}
	waitFor(t, "the blob readable from 30 shards", func() (bool, string) {
		_, page := get(t, x+"blob/"+b.BlobID)
		return strings.Contains(page, `<b id="readable-count">30</b> of 40 shards`), "readable count not 30"
	})
}
