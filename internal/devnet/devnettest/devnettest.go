// Package devnettest starts child-process devnets for tests: the floe binary built once per
// test binary (Main), free loopback addresses (FreeAddr), and a network that is stopped when
// the test ends (Start).
package devnettest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	apidaemon "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/internal/devnet"
	"github.com/floelabs/floe/internal/freeaddr"
)

// BinEnv names a prebuilt floe binary for the devnets of tests (to profile the child
// processes with perf, say, which needs the binary after the run); without it Main builds
// one.
const BinEnv = "FLOE_TEST_BIN"

// Main is the TestMain of a package whose tests start devnets: it parses the flags, sets *bin
// to the floe binary (BinEnv's, else one built into a temporary directory, except with
// -short, when the tests skip devnets), runs the tests, removes what it built and exits.
func Main(m *testing.M, bin *string) { MainTags(m, bin, "") }

// MainTags is Main with the binary built with the given build tags (if not empty; then
// BinEnv is not used: a prebuilt binary may lack what the tags add).
func MainTags(m *testing.M, bin *string, tags string) {
	flag.Parse()
	if tags == "" {
		*bin = os.Getenv(BinEnv)
	}
	if *bin != "" || testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "floe-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "building floe:", err)
		os.Exit(1)
	}
	*bin = filepath.Join(dir, "floe")
	args := []string{"build", "-o", *bin}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command("go", append(args, "github.com/floelabs/floe/cmd/floe")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, "building floe:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// FreeAddr returns a 127.0.0.1 address with a port free a moment ago (freeaddr.For).
func FreeAddr(t testing.TB) string {
	t.Helper()
	return freeaddr.For(t)
}

// startTimeout bounds opening and starting a devnet: a guard against a hang, far above what
// a start takes on an idle machine (seconds), so that a loaded one does not fail a test.
const startTimeout = 5 * time.Minute

// Start opens and starts the devnet cfg describes and stops it when the test ends (a failure
// to stop it fails the test). It skips the test with -short.
func Start(t testing.TB, cfg devnet.Config) *devnet.Network {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a devnet (not with -short)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	n, err := devnet.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	Run(ctx, t, n)
	return n
}

// Run starts the opened devnet n and stops it when the test ends (a failure to stop it fails
// the test).
func Run(ctx context.Context, t testing.TB, n *devnet.Network) {
	t.Helper()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Errorf("stopping the devnet: %v", err)
		}
	})
}

// PutBlob stores data through a publisher's PUT /v1/blobs (base its URL) for epochs epochs
// and returns the blob ID it answers (newly created or already certified).
func PutBlob(ctx context.Context, hc *http.Client, base string, epochs int, data []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, fmt.Sprintf("%s/v1/blobs?epochs=%d", base, epochs), bytes.NewReader(data))
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("PUT: %s: %.300s", resp.Status, b)
	}
	var res apidaemon.BlobStoreResult
	if err := json.Unmarshal(b, &res); err != nil {
		return "", fmt.Errorf("PUT answer %.300s: %w", b, err)
	}
	switch {
	case res.NewlyCreated != nil:
		return res.NewlyCreated.BlobObject.BlobID, nil
	case res.AlreadyCertified != nil:
		return res.AlreadyCertified.BlobID, nil
	}
	return "", fmt.Errorf("PUT answer %.300s", b)
}

// GetBlob reads a blob through an aggregator's GET /v1/blobs/{id} (base its URL).
func GetBlob(ctx context.Context, hc *http.Client, base, id string) ([]byte, error) {
	return Get(ctx, hc, base+"/v1/blobs/"+id)
}

// Get sends a GET to url and returns the body of a 200 answer (else an error with the status
// and the start of the body).
func Get(ctx context.Context, hc *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.300s", url, resp.Status, b)
	}
	return b, nil
}
