// Package e2e tests the network explorer against a devnet: the control plane, storage nodes
// and the daemon serving /explorer/, each its own process on 127.0.0.1. TestExplorerHTTP reads
// the pages and the JSON API.
package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floelabs/floe/internal/devnet"
	"github.com/floelabs/floe/internal/explorer"
)

// floeBin is the floe binary built once for the package's tests.
var floeBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	if floeBin = os.Getenv("FLOE_TEST_BIN"); floeBin != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "floe-explorer-bin")
	if err != nil {
		panic(err)
	}
	floeBin = filepath.Join(dir, "floe")
	cmd := exec.Command("go", "build", "-o", floeBin, "github.com/floelabs/floe/cmd/floe")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building floe:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startNet starts a devnet whose explorer samples every second; it stops when the test ends.
func startNet(t testing.TB, nodes, shards int) *devnet.Network {
	t.Helper()
	if testing.Short() {
		t.Skip("devnet tests are not short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n, err := devnet.Open(ctx, devnet.Config{Dir: t.TempDir(), Nodes: nodes, Shards: shards, Addr: freeAddr(t), S3Addr: "off",
		Binary: floeBin, Logger: slog.New(slog.DiscardHandler), DaemonArgs: []string{"--explorer-interval", "1s"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Errorf("stopping the devnet: %v", err)
		}
	})
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
