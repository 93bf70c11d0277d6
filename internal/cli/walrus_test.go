package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/floelabs/floe/internal/daemon"
	"github.com/floelabs/floe/internal/devnet"
	"github.com/floelabs/floe/internal/freeaddr"
	"github.com/floelabs/floe/redstuff"
)

// startDevnet starts a devnet of 4 nodes and 40 shards whose processes are this test binary
// acting as floe (TestMain); it is stopped when the test ends.
func startDevnet(t *testing.T) devnet.Info {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a devnet")
	}
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(childEnv, "1")
	addr := freeaddr.For(t)
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("FLOE_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	ctx := context.Background()
	n, err := devnet.Open(ctx, devnet.Config{Dir: t.TempDir(), Nodes: 4, Shards: 40, Addr: addr, S3Addr: "off", Binary: bin, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })
	return n.Info()
}

// shapeOf compares the JSON shape of got with golden: the same keys in every object, the same
// JSON type everywhere (null only where the golden has null), every element of an array
// shaped as one of the golden's elements (an empty golden array accepts any elements).
func shapeOf(path string, golden, got any) error {
	switch g := golden.(type) {
	case map[string]any:
		o, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %s", path, kindOf(got))
		}
		var gk, ok2 []string
		for k := range g {
			gk = append(gk, k)
		}
		for k := range o {
			ok2 = append(ok2, k)
		}
		sort.Strings(gk)
		sort.Strings(ok2)
		if strings.Join(gk, ",") != strings.Join(ok2, ",") {
			return fmt.Errorf("%s: keys %v, want %v", path, ok2, gk)
		}
		for _, k := range gk {
			if err := shapeOf(path+"."+k, g[k], o[k]); err != nil {
				return err
			}
		}
		return nil
	case []any:
		a, ok := got.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array, got %s", path, kindOf(got))
		}
		if len(g) == 0 {
			return nil
		}
		for i, x := range a {
			var first error
			for _, ge := range g {
				err := shapeOf(fmt.Sprintf("%s[%d]", path, i), ge, x)
				if err == nil {
					first = nil
					break
				}
				if first == nil {
					first = err
				}
			}
			if first != nil {
				return first
			}
		}
		return nil
	}
	if kindOf(golden) != kindOf(got) {
		return fmt.Errorf("%s: want %s, got %s (%v)", path, kindOf(golden), kindOf(got), got)
	}
	return nil
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case float64, json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// checkShape compares output (one JSON value) with testdata/walrus/name.json.
func checkShape(t *testing.T, name string, output []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "walrus", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden, got any
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatalf("%s.json: %v", name, err)
	}
	if err := json.Unmarshal(output, &got); err != nil {
		t.Fatalf("%s: output is not one JSON value: %v\n%s", name, err, output)
	}
	if err := shapeOf("$", golden, got); err != nil {
		t.Errorf("%s: %v\noutput:\n%s", name, err, output)
	}
}

func TestShapeOf(t *testing.T) {
	golden := map[string]any{"a": []any{map[string]any{"b": 1.0, "c": nil}}, "d": "x"}
	for _, tc := range []struct {
		got string
		ok  bool
	}{
		{`{"a": [{"b": 2, "c": null}], "d": "y"}`, true},
		{`{"a": [], "d": "y"}`, true},
		{`{"a": [{"b": 2, "c": null}, {"b": "2", "c": null}], "d": "y"}`, false},
		{`{"a": [{"b": 2, "c": 3}], "d": "y"}`, false},
		{`{"a": [{"b": 2}], "d": "y"}`, false},
		{`{"a": [{"b": 2, "c": null}], "d": "y", "e": 1}`, false},
		{`{"a": {}, "d": "y"}`, false},
	} {
		var got any
		json.Unmarshal([]byte(tc.got), &got)
		if err := shapeOf("$", golden, got); (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.got, err, tc.ok)
		}
	}
}

// TestWalrusJSONShapes runs every client command with --json against a devnet and compares
// its output with the shape of Walrus's (testdata/walrus).
func TestWalrusJSONShapes(t *testing.T) {
	info := startDevnet(t)
	dir := t.TempDir()
	cfg := info.ClientConfig
	ctx := context.Background()
	floe := func(t *testing.T, stdin string, args ...string) []byte {
		t.Helper()
		var out, errb bytes.Buffer
		if code := RunIO(ctx, append([]string{"--config", cfg}, args...), strings.NewReader(stdin), &out, &errb); code != 0 {
			t.Fatalf("floe %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return out.Bytes()
	}
	file := func(name string, size int) string {
		p := filepath.Join(dir, name)
		data := bytes.Repeat([]byte(name), size/len(name)+1)[:size]
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := file("a.txt", 3000)
	var stored []struct {
		BlobStoreResult struct {
			NewlyCreated *struct {
				BlobObject struct {
					ID     string `json:"id"`
					BlobID string `json:"blobId"`
				} `json:"blobObject"`
			} `json:"newlyCreated"`
		} `json:"blobStoreResult"`
	}
	out := floe(t, "", "store", a, "--epochs", "3", "--json")
	checkShape(t, "store", out)
	if err := json.Unmarshal(out, &stored); err != nil || len(stored) != 1 || stored[0].BlobStoreResult.NewlyCreated == nil {
		t.Fatalf("store: %v %s", err, out)
	}
	objID, blobID := stored[0].BlobStoreResult.NewlyCreated.BlobObject.ID, stored[0].BlobStoreResult.NewlyCreated.BlobObject.BlobID
	checkShape(t, "store-already-certified", floe(t, "", "--json", "store", a, "--epochs", "2"))
	checkShape(t, "store-dry-run", floe(t, "", "store", a, "--epochs", "max", "--dry-run", "--json"))
	checkShape(t, "read", floe(t, "", "read", blobID, "--json"))
	checkShape(t, "read-out", floe(t, "", "read", blobID, "--out", filepath.Join(dir, "out"), "--json"))
	want, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"--strict-consistency-check", "--skip-consistency-check"} {
		if got := floe(t, "", "read", blobID, flag); !bytes.Equal(got, want) {
			t.Fatalf("read %s: %d bytes, want the %d stored", flag, len(got), len(want))
		}
	}
	var errb bytes.Buffer
	if code := RunIO(ctx, []string{"--config", cfg, "read", blobID, "--strict-consistency-check", "--skip-consistency-check"}, strings.NewReader(""), io.Discard, &errb); code == 0 || !strings.Contains(errb.String(), "cannot be used together") {
		t.Fatalf("read with both consistency flags: exit %d: %s", code, errb.String())
	}
	checkShape(t, "blob-id", floe(t, "", "blob-id", a, "--json"))
	checkShape(t, "blob-status-deletable", floe(t, "", "blob-status", "--blob-id", blobID, "--json"))
	checkShape(t, "list-blobs", floe(t, "", "list-blobs", "--json"))
	checkShape(t, "extend", floe(t, "", "extend", "--blob-obj-id", objID, "--epochs-extended", "2", "--json"))
	checkShape(t, "get-blob-attribute-none", floe(t, "", "get-blob-attribute", objID, "--json"))
	if out := floe(t, "", "set-blob-attribute", objID, "--attr", "content-type", "image/png", "--json"); len(out) != 0 {
		t.Errorf("set-blob-attribute --json printed %q (Walrus prints nothing)", out)
	}
	checkShape(t, "get-blob-attribute", floe(t, "", "get-blob-attribute", objID, "--json"))
	checkShape(t, "convert-blob-id", floe(t, "", "convert-blob-id", "123", "--json"))
	for _, sub := range []string{"", "all", "epoch", "storage", "size", "price", "committee", "bft", "coin"} {
		args, name := []string{"info", "--json"}, "info"
		if sub != "" {
			args, name = append(args, sub), "info-"+sub
		}
		checkShape(t, name, floe(t, "", args...))
	}
	checkShape(t, "health", healthAllAnswered(t, func() []byte { return floe(t, "", "health", "--committee", "--detail", "--json") }))

	p := file("p.txt", 5000)
	floe(t, "", "store", p, "--epochs", "2", "--permanent")
	checkShape(t, "blob-status-permanent", floe(t, "", "blob-status", "--file", p, "--json"))
	var pst struct {
		BlobID string `json:"blobId"`
	}
	json.Unmarshal(floe(t, "", "blob-id", p, "--json"), &pst)

	// delete: by file (with the post-deletion status) and by an object ID the wallet does not
	// own as a live deletable blob (the permanent one is refused, so another ID).
	checkShape(t, "delete", floe(t, "", "delete", "--file", a, "--object-id", "0x"+strings.Repeat("ab", 32), "--yes", "--json"))
	checkShape(t, "blob-status-nonexistent", floe(t, "", "blob-status", "--blob-id", blobID, "--json"))

	// burn-blobs: Floe's own JSON (Walrus prints a sentence).
	var owned []struct {
		ID     string `json:"id"`
		BlobID string `json:"blobId"`
	}
	json.Unmarshal(floe(t, "", "list-blobs", "--json"), &owned)
	if len(owned) != 1 || owned[0].BlobID != pst.BlobID {
		t.Fatalf("list-blobs after the delete: %+v", owned)
	}
	checkShape(t, "burn-blobs", floe(t, "", "burn-blobs", "--object-ids", owned[0].ID, "--yes", "--json"))
	if out := floe(t, "", "list-blobs", "--json"); strings.TrimSpace(string(out)) != "[]" {
		t.Errorf("list-blobs after burning: %s", out)
	}
	// A burnt blob stays stored and certified.
	checkShape(t, "blob-status-permanent", floe(t, "", "blob-status", "--file", p, "--json"))

	// Shared blobs: store --share, share, fund-shared-blob, extend --shared.
	sh := file("s.txt", 4000)
	out = floe(t, "", "store", sh, "--epochs", "2", "--permanent", "--share", "--json")
	checkShape(t, "store-shared", out)
	var shared []struct {
		BlobStoreResult struct {
			NewlyCreated struct {
				SharedBlobObject string `json:"sharedBlobObject"`
			} `json:"newlyCreated"`
		} `json:"blobStoreResult"`
	}
	json.Unmarshal(out, &shared)
	sharedID := shared[0].BlobStoreResult.NewlyCreated.SharedBlobObject
	checkShape(t, "fund-shared-blob", floe(t, "", "fund-shared-blob", "--shared-blob-obj-id", sharedID, "--amount", "1000", "--json"))
	checkShape(t, "extend", floe(t, "", "extend", "--blob-obj-id", sharedID, "--shared", "--json"))
	sh2 := file("s2.txt", 4100)
	json.Unmarshal(floe(t, "", "store", sh2, "--epochs", "2", "--permanent", "--json"), &stored)
	checkShape(t, "share", floe(t, "", "share", "--blob-obj-id", stored[0].BlobStoreResult.NewlyCreated.BlobObject.ID, "--amount", "1000", "--json"))

	// JSON mode runs the same commands.
	checkShape(t, "blob-status-permanent", floe(t, "", "json", fmt.Sprintf(`{"config": %q, "command": {"blobStatus": {"file": %q}}}`, cfg, p)))
	checkShape(t, "info-epoch", floe(t, fmt.Sprintf(`{"config": %q, "command": {"info": {"command": "epoch"}}}`, cfg), "json"))
	checkShape(t, "blob-id", floe(t, "", "json", fmt.Sprintf(`{"command": {"blobId": {"file": %q, "nShards": 40}}}`, p)))
}

// healthAllAnswered runs health (a `health --json`) until every node answered (a node that
// did not answer within the command's 10 s, as on a loaded machine, is {"Err": ...}, which
// has another shape than Walrus's {"Ok": ...}), at most a minute, and returns the last output.
func healthAllAnswered(t *testing.T, health func() []byte) []byte {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out := health()
		var h struct {
			HealthInfo []struct {
				NodeName   string `json:"nodeName"`
				HealthInfo struct {
					Err *string `json:"Err"`
				} `json:"healthInfo"`
			} `json:"healthInfo"`
		}
		if err := json.Unmarshal(out, &h); err != nil {
			return out // checkShape reports it
		}
		var errs []string
		for _, n := range h.HealthInfo {
			if n.HealthInfo.Err != nil {
				errs = append(errs, n.NodeName+": "+*n.HealthInfo.Err)
			}
		}
		if len(errs) == 0 || time.Now().After(deadline) {
			return out
		}
		t.Logf("health: %d nodes did not answer (%s); asking again", len(errs), strings.Join(errs, "; "))
		time.Sleep(time.Second)
	}
}

// TestPublisherWalrusFlags runs `floe daemon` with Walrus's flags on a devnet: sub-wallets
// (--sub-wallets-dir, --n-clients) storing in parallel and keeping the objects in the main
// wallet, a 0x-hex JWT secret, space-separated --allowed-headers and a --blocklist.
func TestPublisherWalrusFlags(t *testing.T) {
	info := startDevnet(t)
	dir := t.TempDir()
	addr := freeaddr.For(t)
	secret := []byte("publisher secret")
	blocklist := filepath.Join(dir, "blocklist.yaml")
	enc, err := redstuff.New(info.NShards)
	if err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	emptyID, err := blobIDOfFile(enc, empty)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(blocklist, []byte("- "+emptyID.BlobID+"\n"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var logs bytes.Buffer
	go func() {
		done <- RunIO(ctx, []string{"--config", info.ClientConfig, "daemon", "--bind-address", addr, "--metrics-address", "off",
			"--sub-wallets-dir", filepath.Join(dir, "wallets"), "--n-clients", "3", "--jwt-decode-secret", "0x" + fmt.Sprintf("%x", secret),
			"--allowed-headers", "content-type", "x-label", "--blocklist", blocklist}, strings.NewReader(""), io.Discard, &logs)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("daemon exit %d", code)
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	}()
	base := "http://" + addr
	for deadline := time.Now().Add(time.Minute); ; {
		resp, err := http.Get(base + "/status")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not start: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	put := func(i int, body []byte) (int, []byte) {
		tok, err := daemon.SignJWT(secret, map[string]any{"exp": time.Now().Add(time.Hour).Unix(), "jti": fmt.Sprint("t", i)})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("PUT", base+"/v1/blobs?epochs=2", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	const n = 6
	codes := make(chan int, n)
	for i := range n {
		go func() {
			code, body := put(i, bytes.Repeat([]byte{byte(i + 1)}, 1000+i))
			if code != 200 {
				t.Errorf("store %d: %d %s", i, code, body)
			}
			codes <- code
		}()
	}
	for range n {
		<-codes
	}
	// The objects stay with the main wallet.
	var owned []struct {
		ID string `json:"id"`
	}
	var out, errb bytes.Buffer
	if code := RunIO(context.Background(), []string{"--config", info.ClientConfig, "list-blobs", "--json"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatal(errb.String())
	}
	if err := json.Unmarshal(out.Bytes(), &owned); err != nil || len(owned) != n {
		t.Fatalf("the main wallet owns %d objects, want %d: %v", len(owned), n, err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "wallets", "sub-wallet-*.json")); len(files) != 3 {
		t.Fatalf("%d sub-wallet files, want 3", len(files))
	}
	// A quilt stored with share=true is shared by the sub-wallet that stored it (the object
	// goes to the main wallet only when it is not shared).
	checkSharedQuiltThroughSubWallet(t, base, secret)
	// The empty blob is on the blocklist.
	if code, body := put(100, nil); code != 451 || !strings.Contains(string(body), "FORBIDDEN_BLOB") {
		t.Fatalf("blocked store: %d %s", code, body)
	}
	// No token: 400, as Walrus's.
	resp, err := http.Post(base+"/v1/blobs", "application/octet-stream", strings.NewReader("x"))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 405 {
			t.Errorf("POST: %d", resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("PUT", base+"/v1/blobs", strings.NewReader("x"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 400 {
		t.Fatalf("PUT without a token: %v %v", err, resp)
	}
	// x-label is served from the blob object's attributes; other attributes are not.
	var so bytes.Buffer
	if code := RunIO(context.Background(), []string{"--config", info.ClientConfig, "set-blob-attribute", owned[0].ID, "--attr", "x-label", "L", "--attr", "x-other", "O"},
		strings.NewReader(""), &so, &errb); code != 0 {
		t.Fatal(errb.String())
	}
	resp, err = http.Get(base + "/v1/blobs/by-object-id/" + owned[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Label") != "L" || resp.Header.Get("X-Other") != "" {
		t.Fatalf("by-object-id: %d %v", resp.StatusCode, resp.Header)
	}
}

// checkSharedQuiltThroughSubWallet stores a permanent quilt with share=true through a
// publisher with sub-wallets: it must be stored and shared (200 with a shared blob object).
func checkSharedQuiltThroughSubWallet(t *testing.T, base string, secret []byte) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("notes", "notes.txt")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write([]byte("a patch of a shared quilt"))
	mw.Close()
	tok, err := daemon.SignJWT(secret, map[string]any{"exp": time.Now().Add(time.Hour).Unix(), "jti": "quilt-share"})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", base+"/v1/quilts?epochs=2&permanent=true&share=true", &body)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		BlobStoreResult struct {
			NewlyCreated *struct {
				SharedBlobObject string `json:"sharedBlobObject"`
			} `json:"newlyCreated"`
		} `json:"blobStoreResult"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil || out.BlobStoreResult.NewlyCreated == nil || out.BlobStoreResult.NewlyCreated.SharedBlobObject == "" {
		t.Fatalf("PUT /v1/quilts?share=true through a sub-wallet: %d %s", resp.StatusCode, b)
	}
}
