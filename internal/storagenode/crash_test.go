package storagenode_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/cli"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpserver"
	"github.com/floelabs/floe/internal/controlplane/cptest"
	"github.com/floelabs/floe/internal/controlplane/embedded"
	"github.com/floelabs/floe/internal/freeaddr"
	"github.com/floelabs/floe/internal/nodestore"
	"github.com/floelabs/floe/internal/nodetls"
	"github.com/floelabs/floe/redstuff"
)

// TestMain lets the test binary act as `floe` in a child process (the kill -9 test).
func TestMain(m *testing.M) {
	if args := os.Getenv("FLOE_TEST_CHILD_ARGS"); args != "" {
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err != nil {
			panic(err)
		}
		os.Exit(cli.Run(context.Background(), argv, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

type child struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
}

func (c *child) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.Write(p)
}

func (c *child) logs() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.String()
}

func startChild(t *testing.T, argv []string) *child {
	t.Helper()
	b, _ := json.Marshal(argv)
	c := &child{}
	c.cmd = exec.Command(os.Args[0])
	c.cmd.Env = append(os.Environ(), "FLOE_TEST_CHILD_ARGS="+string(b))
	c.cmd.Stderr = c
	c.cmd.Stdout = io.Discard
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
	})
	return c
}

// TestKill9 stores slivers on a node process, kills it with SIGKILL, lets the control plane
// move on, restarts it and checks that it serves every acknowledged sliver and resumes events
// from its persisted cursor.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	const nShards = 10
	net := cptest.NewNetwork(nShards, 2, 1, 1<<50, nil, time.Now())
	chain, err := embedded.Open(t.TempDir(), &embedded.Options{Genesis: net.Genesis, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	srv := httptest.NewServer(cpserver.New(chain, slog.New(slog.DiscardHandler)))
	defer srv.Close()

	keyDir, dataDir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(keyDir, "protocol.key"), []byte(hex.EncodeToString(net.NodeKeys[0].Bytes())), 0o600); err != nil {
		t.Fatal(err)
	}
	netKey, err := nodetls.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pemKey, _ := nodetls.MarshalPrivateKey(netKey)
	if err := os.WriteFile(filepath.Join(keyDir, "network.key"), pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	pub, _ := nodetls.PublicKeyBytes(&netKey.PublicKey)
	tlsCfg, err := nodetls.ClientConfig(pub, "127.0.0.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}, Timeout: 20 * time.Second}
	addr := freeaddr.For(t)
	base := "https://" + addr
	argv := []string{"node", "run", "--listen", addr, "--data-dir", dataDir, "--key-dir", keyDir,
		"--control-plane", srv.URL, "--metrics-listen", "off", "--log-level", "debug"}

	eventSeq := func() uint64 {
		var s uint64
		chain.View(func(st *controlplane.State, _ controlplane.Hash) { s = st.EventSeq() })
		return s
	}
	do := func(method, path string, body []byte) (int, []byte) {
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", api.ContentTypeOctetStream)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	waitApplied := func(c *child) {
		want := eventSeq()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			req, _ := http.NewRequest("GET", base+api.RouteHealth, nil)
			if resp, err := client.Do(req); err == nil {
				var h api.Success[api.ServiceHealthInfo]
				json.NewDecoder(resp.Body).Decode(&h)
				resp.Body.Close()
				if h.Success.Data.EventProgress.Persisted >= want {
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("node did not apply %d events; logs:\n%s", want, c.logs())
	}
	register := func(e *redstuff.Encoding) blob.ID {
		md := blob.NewMetadata(&e.Commitment)
		raw := net.Sign(net.Users[0], cpapi.Op{RegisterBlob: &cpapi.RegisterBlobOp{
			EpochsAhead: 3, BlobID: md.ID, RootHash: cpapi.Hash(e.Root), Size: e.Length, EncodingType: uint8(blob.RS2)}})
		out, err := chain.Submit(context.Background(), raw)
		if err != nil || !out.OK() {
			t.Fatalf("register: %v %+v", err, out)
		}
		return md.ID
	}

	enc, _ := redstuff.New(nShards)
	data := bytes.Repeat([]byte("floe kill -9 "), 700)
	ea, _ := enc.Encode(data)
	idA := register(ea)

	c1 := startChild(t, argv)
	waitApplied(c1)
	var committee *cpapi.Committee
	chain.View(func(s *controlplane.State, _ controlplane.Hash) { committee, _ = s.Committee(s.Info().Epoch) })
	var pairs []int
	for _, m := range committee.Members {
		if m.BLSPublicKey == cpapi.BLSPublicKey(net.NodeKeys[0].PublicKey()) {
			for _, s := range m.Shards {
				pairs = append(pairs, blob.PairIndex(idA, nShards, int(s)))
			}
		}
	}
	mdb, _ := blob.NewMetadata(&ea.Commitment).Metadata.MarshalBCS()
	if code, b := do("PUT", api.MetadataPath(idA.String()), mdb); code != 201 {
		t.Fatalf("metadata: %d %s", code, b)
	}
	stored := map[string][]byte{}
	for _, p := range pairs {
		pr, se := ea.Pair(p)
		for _, s := range []redstuff.Sliver{pr, se} {
			body, _ := blob.MarshalSliverData(s)
			path := api.SliverPath(idA.String(), p, s.Axis.String())
			if code, b := do("PUT", path, body); code != 201 {
				t.Fatalf("sliver: %d %s", code, b)
			}
			stored[path] = body
		}
	}
	// Acknowledged: kill at once.
	if err := c1.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	c1.cmd.Wait()

	// The control plane moves on while the node is down.
	eb, _ := enc.Encode(append(data, "second"...))
	idB := register(eb)

	st, err := nodestore.Open(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	cursor, ok, err := st.EventCursor(context.Background())
	st.Close()
	if err != nil || !ok {
		t.Fatalf("cursor: %v %v", ok, err)
	}
	if cursor+1 >= eventSeq() {
		t.Fatalf("cursor %d: the new registration should be after it (chain at %d)", cursor, eventSeq())
	}

	c2 := startChild(t, argv)
	waitApplied(c2)
	for path, body := range stored {
		code, b := do("GET", path, nil)
		if code != 200 || !bytes.Equal(b, body) {
			t.Fatalf("after restart %s: %d", path, code)
		}
	}
	if code, b := do("GET", api.PermanentConfirmationPath(idA.String()), nil); code != 200 {
		t.Fatalf("confirmation after restart: %d %s", code, b)
	}
	mdB, _ := blob.NewMetadata(&eb.Commitment).Metadata.MarshalBCS()
	if code, b := do("PUT", api.MetadataPath(idB.String()), mdB); code != 201 {
		t.Fatalf("metadata of the blob registered while down: %d %s", code, b)
	}
	// The restarted node resumed right after its cursor (not from the start).
	want := fmt.Sprintf(`"from":%d`, cursor+1)
	sc := bufio.NewScanner(strings.NewReader(c2.logs()))
	found := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"msg":"resuming events"`) && strings.Contains(sc.Text(), want) {
			found = true
		}
	}
	if !found {
		t.Fatalf("restarted node did not resume from %d; logs:\n%s", cursor+1, c2.logs())
	}
	c2.cmd.Process.Signal(os.Interrupt)
	c2.cmd.Wait()
}
