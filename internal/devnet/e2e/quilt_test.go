package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	apid "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/devnet"
	"github.com/floelabs/floe/internal/devnet/devnettest"
	"github.com/floelabs/floe/quilt"
	"github.com/floelabs/floe/redstuff"
)

// startPortalNet opens and starts a devnet with its site portal on a free port; the daemon
// takes quilt bodies of at most maxQuiltKiB.
func startPortalNet(t testing.TB, nodes, shards int, maxQuiltKiB int) *devnet.Network {
	t.Helper()
	n := devnettest.Start(t, devnet.Config{Dir: t.TempDir(), Nodes: nodes, Shards: shards, Addr: freeAddr(t), PortalAddr: freeAddr(t),
		Binary: floeBin, Logger: slog.New(slog.DiscardHandler), DaemonArgs: []string{"--max-quilt-body-size", fmt.Sprint(maxQuiltKiB)}})
	return n
}

type quiltFile struct {
	identifier string
	data       []byte
	tags       map[string]string
}

// putQuilt is curl -X PUT "$PUBLISHER/v1/quilts?..." -F id=@file ... -F _metadata=[...].
func putQuilt(t *testing.T, daemon, query string, files []quiltFile) (int, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	var meta []map[string]any
	for _, f := range files {
		w, err := mw.CreateFormFile(f.identifier, "upload.bin")
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.data)
		if f.tags != nil {
			meta = append(meta, map[string]any{"identifier": f.identifier, "tags": f.tags})
		}
	}
	if meta != nil {
		b, _ := json.Marshal(meta)
		mw.WriteField(apid.QuiltMetadataField, string(b))
	}
	mw.Close()
	code, _, body := httpDo(t, "PUT", daemon+"/v1/quilts?"+query, buf.Bytes(), map[string]string{"Content-Type": mw.FormDataContentType()})
	return code, body
}

// TestQuilts stores and reads quilts through HTTP, the CLI and the SDK on a devnet, each
// reading what the others stored.
func TestQuilts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a devnet of child processes")
	}
	net := startPortalNet(t, 4, 100, 256)
	info := net.Info()
	daemon := info.Daemon
	ctx := context.Background()
	c := sdkClient(t, info)
	cfg := []string{"--config", info.ClientConfig}

	// HTTP: store, then read by patch ID, by identifier, and list.
	httpFiles := []quiltFile{
		{"contract-v2", randomBytes(101, 5000), map[string]string{"creator": "walrus", "version": "1.0"}},
		{"logo-2024", randomBytes(102, 3000), map[string]string{"content-type": "image/png"}},
		{"notes/readme.txt", []byte("plain text notes"), nil},
	}
	code, body := putQuilt(t, daemon, "epochs=2&quilt_version=v1", httpFiles)
	if code != 200 {
		t.Fatalf("PUT /v1/quilts: %d %s", code, body)
	}
	var hres apid.QuiltStoreResponse
	if err := json.Unmarshal(body, &hres); err != nil || hres.BlobStoreResult.NewlyCreated == nil || len(hres.StoredQuiltBlobs) != 3 {
		t.Fatalf("PUT /v1/quilts answer: %s (%v)", body, err)
	}
	httpQuilt := hres.BlobStoreResult.NewlyCreated.BlobObject.BlobID
	httpIDs := map[string]string{}
	for _, p := range hres.StoredQuiltBlobs {
		httpIDs[p.Identifier] = p.QuiltPatchID
	}
	for _, f := range httpFiles {
		code, hdr, got := httpDo(t, "GET", daemon+"/v1/blobs/by-quilt-patch-id/"+httpIDs[f.identifier], nil, nil)
		if code != 200 || !bytes.Equal(got, f.data) || hdr.Get(apid.HeaderQuiltPatchIdentifier) != f.identifier || hdr.Get("ETag") != httpIDs[f.identifier] {
			t.Fatalf("GET by patch ID %s: %d, %d bytes, %v", f.identifier, code, len(got), hdr)
		}
		code, _, got = httpDo(t, "GET", daemon+"/v1/blobs/by-quilt-id/"+httpQuilt+"/"+url.PathEscape(f.identifier), nil, nil)
		if code != 200 || !bytes.Equal(got, f.data) {
			t.Fatalf("GET by identifier %s: %d", f.identifier, code)
		}
	}
	if _, hdr, _ := httpDo(t, "GET", daemon+"/v1/blobs/by-quilt-patch-id/"+httpIDs["logo-2024"], nil, nil); hdr.Get("Content-Type") != "image/png" {
		t.Fatalf("the content-type tag is not served: %v", hdr)
	}
	code, _, body = httpDo(t, "GET", daemon+"/v1/quilts/"+httpQuilt+"/patches", nil, nil)
	var items []apid.QuiltPatchItem
	if code != 200 || json.Unmarshal(body, &items) != nil || len(items) != 3 || items[0].Tags["creator"] != "walrus" {
		t.Fatalf("GET patches: %d %s", code, body)
	}
	code, _, body = httpDo(t, "GET", daemon+"/v1/blobs/by-quilt-id/"+httpQuilt+"/missing", nil, nil)
	wantErrorReason(t, code, body, 404, apid.ReasonQuiltPatchNotFound)
	code, body = putQuilt(t, daemon, "", []quiltFile{{"big", randomBytes(103, 300<<10), nil}})
	wantErrorReason(t, code, body, 413, apid.ReasonPayloadTooLarge)
	// The publisher's quilt object is marked as a quilt.
	obj, err := client.ParseObjectID(hres.BlobStoreResult.NewlyCreated.BlobObject.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := c.BlobByObjectID(ctx, obj); err != nil || b.Attributes[client.AttrBlobType] != client.BlobTypeQuilt {
		t.Fatalf("the HTTP quilt's object: %+v %v", b, err)
	}

	// CLI: --paths, then --blobs with tags; read by identifiers and by tag; list.
	dir := t.TempDir()
	cliFiles := map[string][]byte{}
	for i := range 5 {
		name := fmt.Sprintf("page-%d.html", i)
		cliFiles[name] = randomBytes(uint64(200+i), 1000+i*777)
		if err := os.WriteFile(filepath.Join(dir, name), cliFiles[name], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var sq struct {
		BlobStoreResult  apid.BlobStoreResult   `json:"blobStoreResult"`
		StoredQuiltBlobs []apid.StoredQuiltBlob `json:"storedQuiltBlobs"`
	}
	if err := json.Unmarshal(floe(t, append([]string{"store-quilt", "--paths", dir, "--epochs", "2", "--json"}, cfg...)...), &sq); err != nil || len(sq.StoredQuiltBlobs) != 5 {
		t.Fatalf("store-quilt --paths: %+v %v", sq, err)
	}
	cliQuilt := storedID(t, sq.BlobStoreResult)
	out := t.TempDir()
	var rq struct {
		Patches []struct {
			Identifier string `json:"identifier"`
			Out        string `json:"out"`
		} `json:"patches"`
		Fetched client.QuiltReadStats `json:"fetched"`
	}
	if err := json.Unmarshal(floe(t, append([]string{"read-quilt", "--quilt-id", cliQuilt, "--identifiers", "page-3.html,page-0.html", "--out", out, "--json"}, cfg...)...), &rq); err != nil || len(rq.Patches) != 2 {
		t.Fatalf("read-quilt: %+v %v", rq, err)
	}
	for _, p := range rq.Patches {
		got, err := os.ReadFile(p.Out)
		if err != nil || !bytes.Equal(got, cliFiles[p.Identifier]) {
			t.Fatalf("read-quilt %s: %v", p.Identifier, err)
		}
	}
	if rq.Fetched.FullRead || rq.Fetched.Columns < 3 {
		t.Fatalf("read-quilt fetched %+v", rq.Fetched)
	}
	// The CLI's quilt through HTTP, the HTTP quilt through the CLI.
	if code, _, got := httpDo(t, "GET", daemon+"/v1/blobs/by-quilt-id/"+cliQuilt+"/page-4.html", nil, nil); code != 200 || !bytes.Equal(got, cliFiles["page-4.html"]) {
		t.Fatalf("HTTP read of the CLI's quilt: %d", code)
	}
	if got := floe(t, append([]string{"read-quilt", "--quilt-patch-ids", httpIDs["contract-v2"]}, cfg...)...); !bytes.Equal(got, httpFiles[0].data) {
		t.Fatal("CLI read of the HTTP quilt: wrong bytes")
	}
	tagged := filepath.Join(t.TempDir(), "tagged.bin")
	if err := os.WriteFile(tagged, []byte("tagged data"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other.bin")
	if err := os.WriteFile(other, []byte("other data"), 0o644); err != nil {
		t.Fatal(err)
	}
	floe(t, append([]string{"store-quilt", "--json", "--epochs", "1", "--blobs",
		`{"path": "` + tagged + `", "identifier": "t1", "tags": {"kind": "report", "year": 2025}}`,
		`{"path": "` + other + `", "identifier": "o1", "tags": {"kind": "other"}}`}, cfg...)...)
	ids := offlineQuiltID(t, c, ctx, tagged, other)
	var lp struct {
		QuiltID string                  `json:"quiltId"`
		Patches []client.QuiltPatchInfo `json:"patches"`
	}
	if err := json.Unmarshal(floe(t, append([]string{"list-patches-in-quilt", ids, "--json"}, cfg...)...), &lp); err != nil || len(lp.Patches) != 2 ||
		lp.Patches[1].Identifier != "t1" || lp.Patches[1].Tags["year"] != "2025" {
		t.Fatalf("list-patches-in-quilt: %+v %v", lp, err)
	}
	tagOut := t.TempDir()
	floe(t, append([]string{"read-quilt", "--quilt-id", ids, "--tag", "kind=report", "--out", tagOut}, cfg...)...)
	if got, err := os.ReadFile(filepath.Join(tagOut, "t1")); err != nil || string(got) != "tagged data" {
		t.Fatalf("read-quilt --tag: %q %v", got, err)
	}
	if entries, _ := os.ReadDir(tagOut); len(entries) != 1 {
		t.Fatalf("read-quilt --tag wrote %d files", len(entries))
	}

	// SDK: store, then read what HTTP stored and what the SDK stored.
	sdkPatches := []quilt.Patch{{Identifier: "a", Data: randomBytes(300, 4096), Tags: map[string]string{"lang": "en"}},
		{Identifier: "b", Data: randomBytes(301, 100)}, {Identifier: "c", Data: nil, Tags: map[string]string{"lang": "en"}}}
	res, err := c.StoreQuilt(ctx, sdkPatches, client.StoreOptions{Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.ReadQuiltPatchesByTag(ctx, res.BlobID, "lang", "en")
	if err != nil || len(r.Patches) != 2 || !bytes.Equal(r.Patches[0].Data, sdkPatches[0].Data) || len(r.Patches[1].Data) != 0 {
		t.Fatalf("SDK read by tag: %+v %v", r, err)
	}
	hq, err := blob.ParseID(httpQuilt)
	if err != nil {
		t.Fatal(err)
	}
	r, err = c.ReadQuiltPatches(ctx, hq, []string{"notes/readme.txt"})
	if err != nil || string(r.Patches[0].Data) != "plain text notes" {
		t.Fatalf("SDK read of the HTTP quilt: %v", err)
	}
	if code, _, got := httpDo(t, "GET", daemon+"/v1/blobs/by-quilt-patch-id/"+res.Patches[0].PatchID.String(), nil, nil); code != 200 || !bytes.Equal(got, sdkPatches[0].Data) {
		t.Fatalf("HTTP read of the SDK's quilt: %d", code)
	}
}

// offlineQuiltID returns the ID of the quilt of the two files built offline, after checking
// that the SDK lists the quilt the CLI stored under that ID.
func offlineQuiltID(t *testing.T, c *client.Client, ctx context.Context, tagged, other string) string {
	t.Helper()
	a, _ := os.ReadFile(tagged)
	b, _ := os.ReadFile(other)
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q, err := quilt.Encode(info.Params.NShards, []quilt.Patch{
		{Identifier: "t1", Data: a, Tags: map[string]string{"kind": "report", "year": "2025"}},
		{Identifier: "o1", Data: b, Tags: map[string]string{"kind": "other"}}})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := redstuff.New(info.Params.NShards)
	if err != nil {
		t.Fatal(err)
	}
	md, err := q.Metadata(enc)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := c.ListQuiltPatches(ctx, md.ID)
	if err != nil || len(ps) != 2 {
		t.Fatalf("the CLI's --blobs quilt is not the one built offline: %v", err)
	}
	return md.ID.String()
}

// TestQuiltCost is issue 15's acceptance on the default devnet's size (n = 1000, with
// -devnet.long): 600 files of 10 KiB stored as one quilt through the real store path are
// charged at least 400 times less encoded storage than 600 blobs of 10 KiB, and reading one
// 10 KiB patch fetches only the column it spans.
func TestQuiltCost(t *testing.T) {
	if testing.Short() || !*long {
		t.Skip("needs -devnet.long: 10 nodes and 1000 shards")
	}
	net := startPortalNet(t, 10, 1000, 100<<10)
	info := net.Info()
	ctx := context.Background()
	c := sdkClient(t, info)
	const files, size = 600, 10 << 10
	patches := make([]quilt.Patch, files)
	for i := range patches {
		patches[i] = quilt.Patch{Identifier: fmt.Sprintf("file-%03d.bin", i), Data: randomBytes(uint64(1000+i), size)}
	}
	start := time.Now()
	res, err := c.StoreQuilt(ctx, patches, client.StoreOptions{Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("quilt of %d files of %d bytes stored in %v: blob of %d bytes, charged encoded length %d", files, size, time.Since(start).Round(time.Millisecond), res.Size, res.EncodedLength)
	// Blobs of 10 KiB: every one is charged the same encoded length; store two to see it.
	var blobEnc, blobCost uint64
	for i := range 2 {
		br, err := c.StoreBytes(ctx, randomBytes(uint64(5000+i), size), client.StoreOptions{Epochs: 1})
		if err != nil {
			t.Fatal(err)
		}
		if blobEnc != 0 && br.EncodedLength != blobEnc {
			t.Fatalf("two blobs of 10 KiB charged %d and %d", blobEnc, br.EncodedLength)
		}
		blobEnc, blobCost = br.EncodedLength, br.Cost
	}
	ratio := float64(files) * float64(blobEnc) / float64(res.EncodedLength)
	t.Logf("600 blobs of 10 KiB: 600 x %d = %d encoded bytes charged; one quilt: %d; ratio %.1fx", blobEnc, files*blobEnc, res.EncodedLength, ratio)
	t.Logf("paid: 600 blobs 600 x %d = %d, one quilt %d; ratio %.1fx", blobCost, files*blobCost, res.Cost, float64(files)*float64(blobCost)/float64(res.Cost))
	if ratio < 400 {
		t.Fatalf("a quilt costs only %.1fx less than 600 blobs, want at least 400x", ratio)
	}

	// Read one 10 KiB patch with a new client (nothing cached): its column and the metadata.
	fresh := sdkClient(t, info)
	l, err := quilt.LayoutForBlob(info.NShards, res.Size)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 337} {
		p, err := fresh.ReadQuiltPatchesByID(ctx, []quilt.PatchID{res.Patches[i].PatchID})
		if err != nil || !bytes.Equal(p.Patches[0].Data, patches[i].Data) {
			t.Fatalf("patch %d: %v", i, err)
		}
		st := p.Stats
		cols := int(res.Patches[i].PatchID.Patch.End - res.Patches[i].PatchID.Patch.Start)
		t.Logf("read of the 10 KiB patch %s: %d column(s) of %d bytes; fetched %d bytes of slivers, %d of metadata, %d of recovery symbols (whole quilt: %d bytes)",
			res.Patches[i].Identifier, st.Columns, l.ColumnSize(), st.SliverBytes, st.MetadataBytes, st.SymbolBytes, res.Size)
		if st.FullRead || st.Columns != cols || st.SliverBytes > int64(cols*(l.ColumnSize()+64)) {
			t.Fatalf("patch read fetched %+v, want %d column(s) of %d bytes", st, cols, l.ColumnSize())
		}
	}
	// The same through the CLI (a new process) and HTTP.
	var rq struct {
		Fetched client.QuiltReadStats `json:"fetched"`
	}
	out := t.TempDir()
	if err := json.Unmarshal(floe(t, "read-quilt", "--config", info.ClientConfig, "--quilt-patch-ids", res.Patches[5].PatchID.String(), "--out", out, "--json"), &rq); err != nil {
		t.Fatal(err)
	}
	t.Logf("floe read-quilt of one 10 KiB patch fetched %+v", rq.Fetched)
	code, _, got := httpDo(t, "GET", info.Daemon+"/v1/blobs/by-quilt-patch-id/"+res.Patches[5].PatchID.String(), nil, nil)
	if code != 200 || !bytes.Equal(got, patches[5].Data) {
		t.Fatalf("HTTP patch read: %d", code)
	}
	// And the whole index, for the listing.
	ls, err := fresh.ListQuiltPatches(ctx, res.BlobID)
	if err != nil || len(ls) != files {
		t.Fatalf("list: %d patches, %v", len(ls), err)
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].Identifier < ls[j].Identifier })
	if ls[0].Identifier != "file-000.bin" || !strings.HasPrefix(ls[0].PatchID.String(), res.BlobID.String()[:40]) {
		t.Fatalf("list: %+v", ls[0])
	}
}
