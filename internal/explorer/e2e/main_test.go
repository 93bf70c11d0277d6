// Package e2e tests the network explorer against a devnet: the control plane, storage nodes
// and the daemon serving /explorer/, each its own process on 127.0.0.1. TestExplorerHTTP reads
// the pages and the JSON API.
package e2e

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/floelabs/floe/internal/devnet"
	"github.com/floelabs/floe/internal/devnet/devnettest"
	"github.com/floelabs/floe/internal/explorer"
)

// floeBin is the floe binary built once for the package's tests.
var floeBin string

func TestMain(m *testing.M) { devnettest.Main(m, &floeBin) }

// startNet starts a devnet whose explorer samples every second; it stops when the test ends.
func startNet(t testing.TB, nodes, shards int) *devnet.Network {
	t.Helper()
	if testing.Short() {
		t.Skip("devnet tests are not short")
	}
	n := devnettest.Start(t, devnet.Config{Dir: t.TempDir(), Nodes: nodes, Shards: shards, Addr: devnettest.FreeAddr(t), S3Addr: "off",
		Binary: floeBin, Logger: slog.New(slog.DiscardHandler), DaemonArgs: []string{"--explorer-interval", "1s"}})
	return n
}

// stored is a blob stored through the daemon.
type stored struct {
	BlobID, ObjectID string
}

// storeBlob stores data through the publisher for 3 epochs.
func storeBlob(t testing.TB, daemon string, data []byte) stored {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, daemon+"/v1/blobs?epochs=3", strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("store: %s: %s", resp.Status, b)
	}
	var res struct {
		NewlyCreated struct {
			BlobObject struct {
				ID     string `json:"id"`
				BlobID string `json:"blobId"`
			} `json:"blobObject"`
		} `json:"newlyCreated"`
	}
	if err := json.Unmarshal(b, &res); err != nil || res.NewlyCreated.BlobObject.BlobID == "" {
		t.Fatalf("store answer %s: %v", b, err)
	}
	return stored{BlobID: res.NewlyCreated.BlobObject.BlobID, ObjectID: res.NewlyCreated.BlobObject.ID}
}

// get fetches url without following redirects and returns the response and its body.
func get(t testing.TB, url string) (*http.Response, string) {
	t.Helper()
	hc := &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// snapshot reads the explorer's JSON snapshot.
func snapshot(t testing.TB, explorerURL string) *explorer.Snapshot {
	t.Helper()
	resp, body := get(t, explorerURL+"api/snapshot")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("snapshot: %s: %s", resp.Status, body)
	}
	var s explorer.Snapshot
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return &s
}

// waitFor polls cond every 200 ms until it holds (a generous liveness bound, not a timing
// check).
func waitFor(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened (last: %s)", what, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func nodeByName(s *explorer.Snapshot, name string) *explorer.Node {
	for i := range s.Nodes {
		if s.Nodes[i].Name == name {
			return &s.Nodes[i]
		}
	}
	return nil
}
