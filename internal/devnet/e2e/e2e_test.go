package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	apid "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/devnet"
	"github.com/floelabs/floe/internal/devnet/devnettest"
	"github.com/floelabs/floe/internal/nodestore"
	"github.com/floelabs/floe/redstuff"
)

// -devnet.long runs the default devnet's size (10 nodes, 1000 shards) with 64 MiB blobs;
// .ci/run runs it too.
var long = flag.Bool("devnet.long", false, "end-to-end tests on 10 nodes x 1000 shards with 64 MiB blobs")

// floeBin is the floe binary built once for the package's tests.
var floeBin string

func TestMain(m *testing.M) { devnettest.Main(m, &floeBin) }

// freeAddr is devnettest.FreeAddr (the package's tests and benchmarks call it).
func freeAddr(t testing.TB) string { t.Helper(); return devnettest.FreeAddr(t) }

// startNet opens and starts a devnet in dir; it is stopped when the test ends.
func startNet(t testing.TB, dir string, nodes, shards int, epoch time.Duration) *devnet.Network {
	t.Helper()
	return startNetValidators(t, dir, nodes, shards, epoch, 0)
}

// startNetValidators is startNet with the control plane run as that many CometBFT validators
// (0: the embedded driver).
func startNetValidators(t testing.TB, dir string, nodes, shards int, epoch time.Duration, validators int) *devnet.Network {
	t.Helper()
	n := devnettest.Start(t, devnet.Config{Dir: dir, Nodes: nodes, Shards: shards, Addr: freeAddr(t), EpochDuration: epoch, Validators: validators,
		Binary: floeBin, Logger: slog.New(slog.DiscardHandler), DaemonArgs: []string{"--max-body-size", fmt.Sprint(128 << 10)}})
	return n
}

// sdkClient returns an SDK client with a wallet of its own, funded from the devnet's wallet
// (a long-lived client caches its wallet's nonce, so it must not share the wallet with the
// CLI commands the tests run).
func sdkClient(t testing.TB, info devnet.Info) *client.Client {
	t.Helper()
	return sdkClientYAML(t, info, "")
}

// sdkClientYAML is sdkClient with more lines of client configuration (YAML).
func sdkClientYAML(t testing.TB, info devnet.Info, extra string) *client.Client {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "sdk.key")
	var nw struct {
		Address string `json:"address"`
	}
	if err := json.Unmarshal(floe(t, "wallet", "new", "--out", key, "--json"), &nw); err != nil {
		t.Fatal(err)
	}
	floe(t, "wallet", "transfer", "--url", info.ControlPlane, "--key", info.Wallet, "--to", nw.Address, "--amount", "100000000000000000")
	cfgPath := filepath.Join(dir, "client_config.yaml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, "control_plane_url: %q\nwallet: %q\n%s", info.ControlPlane, key, extra), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := client.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(context.Background(), *cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// httpDo sends a request like curl and returns status, headers and body.
func httpDo(t testing.TB, method, url string, body []byte, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, b
}

// putBlob is `curl -X PUT "$PUBLISHER/v1/blobs?epochs=1" --upload-file FILE`.
func putBlob(t testing.TB, daemon string, query string, data []byte) apid.BlobStoreResult {
	t.Helper()
	code, _, body := httpDo(t, "PUT", daemon+"/v1/blobs?"+query, data, nil)
	if code != 200 {
		t.Fatalf("PUT /v1/blobs?%s: %d %s", query, code, body)
	}
	var res apid.BlobStoreResult
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("store result %s: %v", body, err)
	}
	return res
}

func storedID(t testing.TB, r apid.BlobStoreResult) string {
	t.Helper()
	switch {
	case r.NewlyCreated != nil:
		return r.NewlyCreated.BlobObject.BlobID
	case r.AlreadyCertified != nil:
		return r.AlreadyCertified.BlobID
	}
	t.Fatalf("store result has neither newlyCreated nor alreadyCertified: %+v", r)
	return ""
}

func floe(t testing.TB, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(floeBin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("floe %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func wantErrorReason(t testing.TB, code int, body []byte, wantCode int, reason string) {
	t.Helper()
	var e apid.ErrorResponse
	if code != wantCode || json.Unmarshal(body, &e) != nil || len(e.Error.Details) == 0 || e.Error.Details[0].Reason != reason {
		t.Fatalf("got %d %s, want %d %s", code, body, wantCode, reason)
	}
}

// TestEndToEnd runs a child-process devnet and checks stores and reads through the SDK, the
// CLI and HTTP, already certified blobs, ranges, deletion, a restart of the whole network
// with the same directory, and reads with the nodes holding up to 2f shards killed.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a devnet of child processes")
	}
	nodes, shards := 4, 100
	sizes := []int{0, 1, 1 << 10, 1 << 20}
	if *long {
		nodes, shards = 10, 1000
		sizes = append(sizes, 64<<20)
	}
	dir := t.TempDir()
	net := startNet(t, dir, nodes, shards, 0)
	info := net.Info()
	// devnet.json is what Info says.
	var onDisk devnet.Info
	if b, err := os.ReadFile(filepath.Join(dir, devnet.InfoFile)); err != nil || json.Unmarshal(b, &onDisk) != nil {
		t.Fatalf("devnet.json: %v", err)
	}
	if onDisk.Daemon != info.Daemon || len(onDisk.Nodes) != nodes || onDisk.Nodes[0].Pid == 0 || len(onDisk.Nodes[0].Argv) == 0 {
		t.Fatalf("devnet.json: %+v", onDisk)
	}
	if st, err := os.Stat(filepath.Join(dir, devnet.InfoFile)); err != nil {
		t.Fatal(err)
	} else if st.Mode().Perm() != 0o600 {
		t.Fatalf("devnet.json holds the S3 secret key: want mode 0600, got %v", st.Mode())
	}
	total := 0
	for _, n := range onDisk.Nodes {
		total += len(n.Shards)
	}
	if total != shards {
		t.Fatalf("devnet.json lists %d shards, want %d", total, shards)
	}
	ctx := context.Background()
	c := sdkClient(t, info)
	daemon := info.Daemon
	type stored struct {
		id   string
		data []byte
		via  string
	}
	var all []stored
	for i, size := range sizes {
		t.Run(fmt.Sprintf("sdk/%d", size), func(t *testing.T) {
			data := randomBytes(uint64(3*i), size)
			res, err := c.StoreBytes(ctx, data, client.StoreOptions{Epochs: 2})
			if err != nil {
				t.Fatal(err)
			}
			if !res.NewlyCreated || res.Size != uint64(size) {
				t.Fatalf("store: %+v", res)
			}
			got, err := c.ReadBytes(ctx, res.BlobID)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read: %v (%d bytes, want %d)", err, len(got), size)
			}
			all = append(all, stored{res.BlobID.String(), data, "sdk"})
		})
		t.Run(fmt.Sprintf("http/%d", size), func(t *testing.T) {
			data := randomBytes(uint64(3*i+1), size)
			res := putBlob(t, daemon, "epochs=1", data)
			if res.NewlyCreated == nil || res.NewlyCreated.BlobObject.Size != uint64(size) || res.NewlyCreated.BlobObject.CertifiedEpoch == nil {
				t.Fatalf("store: %+v", res)
			}
			id := storedID(t, res)
			code, hdr, body := httpDo(t, "GET", daemon+"/v1/blobs/"+id, nil, nil)
			if code != 200 || !bytes.Equal(body, data) || hdr.Get("ETag") != id {
				t.Fatalf("GET: %d, %d bytes (want %d), ETag %q", code, len(body), size, hdr.Get("ETag"))
			}
			code, hdr, _ = httpDo(t, "HEAD", daemon+"/v1/blobs/"+id, nil, nil)
			if code != 200 || hdr.Get("Content-Length") != fmt.Sprint(size) {
				t.Fatalf("HEAD: %d %v", code, hdr)
			}
			all = append(all, stored{id, data, "http"})
		})
		t.Run(fmt.Sprintf("cli/%d", size), func(t *testing.T) {
			data := randomBytes(uint64(3*i+2), size)
			in := filepath.Join(t.TempDir(), "in.bin")
			if err := os.WriteFile(in, data, 0o644); err != nil {
				t.Fatal(err)
			}
			var outs []struct {
				BlobStoreResult apid.BlobStoreResult `json:"blobStoreResult"`
				Path            string               `json:"path"`
			}
			if err := json.Unmarshal(floe(t, "store", in, "--epochs", "2", "--config", info.ClientConfig, "--json"), &outs); err != nil || len(outs) != 1 || outs[0].Path != in {
				t.Fatalf("floe store --json: %v %+v", err, outs)
			}
			id := storedID(t, outs[0].BlobStoreResult)
			out := filepath.Join(t.TempDir(), "out.bin")
			floe(t, "read", id, "--out", out, "--config", info.ClientConfig)
			got, err := os.ReadFile(out)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("floe read: %v, %d bytes, want %d", err, len(got), size)
			}
			all = append(all, stored{id, data, "cli"})
		})
	}
	if t.Failed() {
		t.FailNow()
	}

	t.Run("alreadyCertified", func(t *testing.T) {
		// The publisher's own blob of 1 KiB, stored above for one epoch.
		var s stored
		for _, x := range all {
			if x.via == "http" && len(x.data) == 1<<10 {
				s = x
			}
		}
		data := s.data
		res := putBlob(t, daemon, "epochs=1", data)
		if res.AlreadyCertified == nil || res.AlreadyCertified.BlobID != s.id || res.AlreadyCertified.EndEpoch == 0 {
			t.Fatalf("want alreadyCertified: %+v", res)
		}
		res = putBlob(t, daemon, "epochs=1&force=true", data)
		if res.NewlyCreated == nil {
			t.Fatalf("force: want newlyCreated: %+v", res)
		}
	})

	t.Run("range", func(t *testing.T) {
		var s stored
		for _, x := range all {
			if len(x.data) == 1<<20 {
				s = x
			}
		}
		code, hdr, body := httpDo(t, "GET", daemon+"/v1/blobs/"+s.id, nil, map[string]string{"Range": "bytes=1000-200999"})
		if code != 206 || !bytes.Equal(body, s.data[1000:201000]) || hdr.Get("Content-Range") != fmt.Sprintf("bytes 1000-200999/%d", len(s.data)) {
			t.Fatalf("Range: %d %v, %d bytes", code, hdr, len(body))
		}
		code, _, body = httpDo(t, "GET", fmt.Sprintf("%s/v1/blobs/%s/byte-range?start=%d&length=%d", daemon, s.id, 777_777, 12345), nil, nil)
		if code != 200 || !bytes.Equal(body, s.data[777_777:777_777+12345]) {
			t.Fatalf("byte-range: %d, %d bytes", code, len(body))
		}
		code, _, body = httpDo(t, "GET", daemon+"/v1/blobs/"+s.id, nil, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", len(s.data), len(s.data)+5)})
		wantErrorReason(t, code, body, 416, apid.ReasonInvalidByteRange)
		var rb bytes.Buffer
		if err := c.ReadRange(ctx, mustID(t, s.id), 5, 100, &rb); err != nil || !bytes.Equal(rb.Bytes(), s.data[5:105]) {
			t.Fatalf("SDK ReadRange: %v", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		data := randomBytes(999, 4096)
		in := filepath.Join(t.TempDir(), "del.bin")
		os.WriteFile(in, data, 0o644)
		var outs []struct {
			BlobStoreResult apid.BlobStoreResult `json:"blobStoreResult"`
		}
		if err := json.Unmarshal(floe(t, "store", in, "--epochs", "1", "--config", info.ClientConfig, "--json"), &outs); err != nil || outs[0].BlobStoreResult.NewlyCreated == nil {
			t.Fatalf("store: %v %+v", err, outs)
		}
		bo := outs[0].BlobStoreResult.NewlyCreated.BlobObject
		if code, _, body := httpDo(t, "GET", daemon+"/v1/blobs/"+bo.BlobID, nil, nil); code != 200 || !bytes.Equal(body, data) {
			t.Fatalf("before delete: %d", code)
		}
		floe(t, "delete", "--object-ids", bo.ID, "--config", info.ClientConfig)
		code, _, body := httpDo(t, "GET", daemon+"/v1/blobs/"+bo.BlobID, nil, nil)
		wantErrorReason(t, code, body, 404, apid.ReasonBlobNotFound)
		if _, err := c.ReadBytes(ctx, mustID(t, bo.BlobID)); !errors.Is(err, client.ErrBlobNotFound) {
			t.Fatalf("SDK read after delete: %v", err)
		}
	})

	parent := t
	t.Run("restart", func(t *testing.T) {
		if err := net.Stop(); err != nil {
			t.Fatal(err)
		}
		net = startNet(parent, dir, nodes, shards, 0)
		info = net.Info()
		for _, s := range all {
			code, _, body := httpDo(t, "GET", info.Daemon+"/v1/blobs/"+s.id, nil, nil)
			if code != 200 || !bytes.Equal(body, s.data) {
				t.Fatalf("after restart, %s: %d, %d bytes (want %d)", s.id, code, len(body), len(s.data))
			}
		}
		daemon = info.Daemon
	})

	t.Run("kill 2f shards", func(t *testing.T) {
		// Kill the nodes holding the most shards that stay within f+f (2/3 of them); K_p =
		// n-2f primary slivers still decode.
		p, err := redstuff.NewParams(shards)
		if err != nil {
			t.Fatal(err)
		}
		limit := shards - p.PrimarySource
		order := make([]int, len(info.Nodes))
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool { return len(info.Nodes[order[a]].Shards) > len(info.Nodes[order[b]].Shards) })
		killed := 0
		for _, i := range order {
			if killed+len(info.Nodes[i].Shards) > limit {
				continue
			}
			if err := net.Node(i).Kill(); err != nil {
				t.Fatal(err)
			}
			killed += len(info.Nodes[i].Shards)
		}
		t.Logf("killed nodes holding %d of %d shards (at most %d may be lost)", killed, shards, limit)
		if killed*2 < shards {
			t.Fatalf("killed only %d shards", killed)
		}
		c2 := sdkClient(t, info)
		for _, s := range all {
			if len(s.data) < 1<<20 {
				continue
			}
			code, _, body := httpDo(t, "GET", info.Daemon+"/v1/blobs/"+s.id, nil, nil)
			if code != 200 || !bytes.Equal(body, s.data) {
				t.Fatalf("HTTP read with nodes down: %d %.200s", code, body)
			}
			got, err := c2.ReadBytes(ctx, mustID(t, s.id))
			if err != nil || !bytes.Equal(got, s.data) {
				t.Fatalf("SDK read with nodes down: %v", err)
			}
		}
	})
}

func mustID(t testing.TB, s string) blob.ID {
	t.Helper()
	id, err := blob.ParseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestExpiry stores a blob for one short epoch and checks that once it ended the blob reads
// as 404 and the nodes deleted its metadata and slivers.
func TestExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a devnet of child processes")
	}
	const shards = 40
	dir := t.TempDir()
	net := startNet(t, dir, 2, shards, 6*time.Second)
	info := net.Info()
	data := randomBytes(42, 10_000)
	res := putBlob(t, info.Daemon, "epochs=1", data)
	if res.NewlyCreated == nil {
		t.Fatalf("store: %+v", res)
	}
	id := mustID(t, res.NewlyCreated.BlobObject.BlobID)
	end := res.NewlyCreated.BlobObject.Storage.EndEpoch
	if code, _, body := httpDo(t, "GET", info.Daemon+"/v1/blobs/"+id.String(), nil, nil); code != 200 || !bytes.Equal(body, data) {
		t.Fatalf("read before expiry: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cp := cpclient.New(info.ControlPlane, nil)
	for {
		in, err := cp.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if in.Epoch >= end {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("epoch %d never reached", end)
		case <-time.After(200 * time.Millisecond):
		}
	}
	code, _, body := httpDo(t, "GET", info.Daemon+"/v1/blobs/"+id.String(), nil, nil)
	wantErrorReason(t, code, body, 404, apid.ReasonBlobNotFound)

	// Wait until every node's garbage collection reports an expired blob, then stop the nodes
	// and look into their stores.
	for i, n := range info.Nodes {
		for {
			logs, _ := os.ReadFile(n.LogPath)
			if collectedExpired(logs) {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s never collected the expired blob; log:\n%s", n.Name, logs)
			case <-time.After(200 * time.Millisecond):
			}
		}
		if err := net.Node(i).Stop(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		st, err := nodestore.Open(n.DataDir, &nodestore.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		has, err := st.HasMetadata(ctx, id)
		if err != nil || has {
			t.Errorf("%s still has the metadata (%v)", n.Name, err)
		}
		for _, sh := range n.Shards {
			for _, a := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
				if has, err := st.HasSliver(ctx, sh, id, a); err != nil || has {
					t.Errorf("%s still has sliver %v of shard %d (%v)", n.Name, a, sh, err)
				}
			}
		}
		st.Close()
	}
}

// collectedExpired reports whether a node's JSON log has a garbage collection that removed
// an expired blob.
func collectedExpired(logs []byte) bool {
	for _, line := range bytes.Split(logs, []byte("\n")) {
		var rec struct {
			Msg     string `json:"msg"`
			Expired int    `json:"expired"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "garbage collected" && rec.Expired > 0 {
			return true
		}
	}
	return false
}

// benchNet is one default-size devnet (10 nodes, 1000 shards) shared by the benchmarks.
func benchNet(b *testing.B) devnet.Info {
	b.Helper()
	return startNet(b, b.TempDir(), 10, 1000, 0).Info()
}

// BenchmarkDevnet measures, on the default devnet, the store and read throughput of a
// 256 MiB blob through the SDK and the HTTP daemon next to bare `floe blob-id` of the same
// blob (report the ratios of the MB/s), and the latency of storing 1 KiB.
func BenchmarkDevnet(b *testing.B) {
	if testing.Short() {
		b.Skip("starts a devnet of child processes")
	}
	info := benchNet(b)
	c := sdkClient(b, info)
	ctx := context.Background()
	const size = 256 << 20
	data := randomBytes(7, size)
	file := filepath.Join(b.TempDir(), "blob.bin")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Run("blob-id/256MiB", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			floe(b, "blob-id", "--n-shards", "1000", file)
		}
	})
	var id blob.ID
	round := uint64(0)
	b.Run("store-sdk/256MiB", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			// A new blob every time: storing the same bytes again finds the slivers on the
			// nodes and measures less than a store.
			round++
			binary.LittleEndian.PutUint64(data, round)
			res, err := c.StoreBytes(ctx, data, client.StoreOptions{Epochs: 1, Force: true})
			if err != nil {
				b.Fatal(err)
			}
			id = res.BlobID
		}
	})
	b.Run("read-sdk/256MiB", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			n, err := c.Read(ctx, id, io.Discard)
			if err != nil || n != size {
				b.Fatal(n, err)
			}
		}
	})
	b.Run("read-http/256MiB", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			resp, err := http.Get(info.Daemon + "/v1/blobs/" + id.String())
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || n != size || resp.StatusCode != 200 {
				b.Fatal(resp.StatusCode, n, err)
			}
		}
	})
	small := randomBytes(8, 1<<10)
	b.Run("store-sdk/1KiB", func(b *testing.B) {
		b.SetBytes(1 << 10)
		for b.Loop() {
			round++
			binary.LittleEndian.PutUint64(small, round)
			if _, err := c.StoreBytes(ctx, small, client.StoreOptions{Epochs: 1, Force: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("store-http/1KiB", func(b *testing.B) {
		b.SetBytes(1 << 10)
		for b.Loop() {
			round++
			binary.LittleEndian.PutUint64(small, round)
			if code, _, body := httpDo(b, "PUT", info.Daemon+"/v1/blobs?epochs=1&force=true", small, nil); code != 200 {
				b.Fatal(code, string(body))
			}
		}
	})
}

// TestValidators runs the devnet's control plane as 4 CometBFT validator processes: stores and
// reads work through the daemon, keep working with one validator killed (-9), and the killed
// validator, restarted with its argv from devnet.json, catches up to the same state hash.
func TestValidators(t *testing.T) {
	if testing.Short() {
		t.Skip("builds floe and runs a devnet")
	}
	dir := t.TempDir()
	n := startNetValidators(t, dir, 4, 100, time.Hour, 4)
	info := n.Info()
	b, err := os.ReadFile(filepath.Join(dir, devnet.InfoFile))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk devnet.Info
	if err := json.Unmarshal(b, &onDisk); err != nil {
		t.Fatal(err)
	}
	if len(onDisk.Validators) != 4 || onDisk.Validators[2].Pid == 0 || len(onDisk.Validators[2].Argv) == 0 {
		t.Fatalf("devnet.json validators: %+v", onDisk.Validators)
	}
	data := randomBytes(71, 20000)
	id := storedID(t, putBlob(t, info.Daemon, "epochs=2", data))
	if code, _, body := httpDo(t, "GET", info.Daemon+"/v1/blobs/"+id, nil, nil); code != 200 || !bytes.Equal(body, data) {
		t.Fatalf("read through validators: %d", code)
	}

	v := n.Validators()
	if err := v.Process(2).Kill(); err != nil {
		t.Fatal(err)
	}
	data2 := randomBytes(72, 30000)
	id2 := storedID(t, putBlob(t, info.Daemon, "epochs=2", data2))
	if code, _, body := httpDo(t, "GET", info.Daemon+"/v1/blobs/"+id2, nil, nil); code != 200 || !bytes.Equal(body, data2) {
		t.Fatalf("read with a validator killed: %d", code)
	}

	// Restart it exactly as devnet.json says and wait until it reports the others' app hash.
	p := v.Process(2)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := v.WaitReady(ctx, 2); err != nil {
		t.Fatal(err)
	}
	ref := cpclient.New(v.URL(0), nil)
	back := cpclient.New(v.URL(2), nil)
	for {
		a, err := ref.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, err := back.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if b.Height >= a.Height && b.EventSeq >= a.EventSeq {
			break // caught up with validator 0 as it was a moment ago
		}
		select {
		case <-ctx.Done():
			t.Fatalf("restarted validator stuck at height %d, the others at %d", b.Height, a.Height)
		case <-time.After(200 * time.Millisecond):
		}
	}
	// Same history: the blob stored while it was down is certified in its state too.
	st, err := back.BlobStatus(ctx, mustID(t, id2))
	if err != nil {
		t.Fatal(err)
	}
	if st.DeletableCounts.Certified == 0 {
		t.Fatalf("restarted validator does not know the blob stored while it was down: %+v", st)
	}
}
