package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestTagPairArgs(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"--tag", "kind", "report"}, []string{"--tag", "kind", "report"}},
		{[]string{"--tag", "kind=report", "--out", "d"}, []string{"--tag", "kind", "report", "--out", "d"}},
		{[]string{"--tag=kind=report"}, []string{"--tag", "kind", "report"}},
		{[]string{"--tag=kind", "report"}, []string{"--tag", "kind", "report"}},
		{[]string{"-tag", "a=b=c"}, []string{"--tag", "a", "b=c"}},
		{[]string{"--tag", "kind", "a=b"}, []string{"--tag", "kind", "a=b"}},
		{[]string{"--", "--tag", "k=v"}, []string{"--", "--tag", "k=v"}},
		{[]string{"--quilt-id", "tag=x"}, []string{"--quilt-id", "tag=x"}},
	} {
		if got := tagPairArgs(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("tagPairArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestQuiltJSONToArgv(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`{"command": {"storeQuilt": {"blobs": [{"path": "a.txt", "identifier": "a", "tags": {"k": "v"}}], "epochs": 2}}}`,
			[]string{"--json", "store-quilt", "--blobs=" + `{"identifier":"a","path":"a.txt","tags":{"k":"v"}}`, "--epochs=2"}},
		{`{"command": {"storeQuilt": {"paths": ["d1", "d2"], "epochs": "max", "dryRun": true}}}`,
			[]string{"--json", "store-quilt", "--dry-run", "--epochs=max", "--paths=d1", "--paths=d2"}},
		{`{"command": {"readQuilt": {"quiltId": "Q", "tag": ["kind", "report"], "out": "o"}}}`,
			[]string{"--json", "read-quilt", "--out=o", "--quilt-id=Q", "--tag", "kind", "report"}},
		{`{"command": {"listPatchesInQuilt": {"quiltId": "Q"}}}`, []string{"--json", "list-patches-in-quilt", "--", "Q"}},
	} {
		got, err := jsonToArgv(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %q %v\nwant %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := jsonToArgv(`{"command": {"readQuilt": {"quiltId": "Q", "tag": ["kind"]}}}`); err == nil {
		t.Error("a tag without its value was accepted")
	}
}

// TestQuiltUsage checks the quilt commands' usage errors (exit 2), which come before any
// network access, and that the Walrus aliases reach the same checks.
func TestQuiltUsage(t *testing.T) {
	isolate(t)
	f := writeFile(t, "a.txt", []byte("a"))
	const id = "4BKcDC0Ih5RJ8R0tFMz3MZVNZV8b2goT6_JiEEwNHQo"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"store-quilt", "--paths", f}, "exactly one of --epochs"},
		{[]string{"write-quilt", "--paths", f}, "exactly one of --epochs"},
		{[]string{"store-quilt", "--paths", f, "--epochs", "0"}, "invalid epoch count"},
		{[]string{"store-quilt", "--paths", f, "--blobs", `{"path": "x"}`, "--epochs", "1"}, "not both"},
		{[]string{"store-quilt", "--paths", f, "--epochs", "1", "--deletable", "--permanent"}, "cannot be used together"},
		{[]string{"store-quilt", "--paths", f, "--epochs", "1", "--encoding-type", "RS"}, "only RS2"},
		{[]string{"store-quilt", "--paths", f, "--epochs", "1", "--share"}, "add --permanent"},
		{[]string{"store-quilt", "--paths", f, "--epochs", "1", "--upload-relay", "http://x"}, "no upload relay"},
		{[]string{"read-quilt"}, "usage: floe read-quilt"},
		{[]string{"read-quilt", "--quilt-id", id, "--quilt-patch-ids", id + "AQAB"}, "used alone"},
		{[]string{"read-quilt", "--quilt-id", id, "--identifiers", "a", "--tag", "k", "v"}, "not both"},
		{[]string{"read-quilt", "--quilt-id", id, "--tag", "k", "v", "--tag", "k2=v2"}, "only one --tag"},
		{[]string{"read-quilt", "--quilt-id", "nope", "--identifier", "a"}, "--quilt-id"},
		{[]string{"resolve-quilt", "nope"}, "list-patches-in-quilt"},
		{[]string{"site", "publish", t.TempDir(), "--site", "0x01"}, "use update or deploy"},
		{[]string{"site", "update", t.TempDir()}, "give --site"},
		{[]string{"site", "launch", t.TempDir()}, "unknown subcommand"},
	} {
		code, _, errs := run(t, tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("floe %q: exit %d, %q (want exit 2 and %q)", tc.args, code, errs, tc.want)
		}
	}
}

// TestQuiltCommands runs the quilt commands with Walrus's flags on a devnet: a dry run whose
// quilt ID is the stored one, --epochs max, the aliases, every read-quilt selector (all patches,
// --identifier, --tag KEY VALUE and KEY=VALUE, --patch-ids) and JSON mode with --blobs objects.
func TestQuiltCommands(t *testing.T) {
	info := startDevnet(t)
	ctx := context.Background()
	floe := func(t *testing.T, args ...string) []byte {
		t.Helper()
		var out, errb bytes.Buffer
		if code := RunIO(ctx, append([]string{"--config", info.ClientConfig}, args...), strings.NewReader(""), &out, &errb); code != 0 {
			t.Fatalf("floe %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return out.Bytes()
	}
	dir := t.TempDir()
	files := map[string][]byte{}
	for i := range 4 {
		name := fmt.Sprintf("f%d.txt", i)
		files[name] = bytes.Repeat([]byte(name), 100*(i+1))
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			t.Fatal(err)
		}
	}

	var dry quiltDryRunOutput
	if err := json.Unmarshal(floe(t, "store-quilt", "--paths", dir, "--epochs", "max", "--dry-run", "--json"), &dry); err != nil {
		t.Fatal(err)
	}
	ps := dry.QuiltIndex.V1.QuiltPatches
	if len(ps) != 4 || ps[0].Identifier != "f0.txt" || dry.QuiltBlobOutput.EncodedSize == 0 || dry.QuiltBlobOutput.StorageCost == 0 {
		t.Fatalf("dry run: %+v", dry)
	}
	if out := floe(t, "list-blobs", "--json"); strings.TrimSpace(string(out)) != "[]" {
		t.Fatalf("the dry run stored something: %s", out)
	}
	var sq quiltStoreOutput
	if err := json.Unmarshal(floe(t, "write-quilt", "--paths", dir, "--epochs", "max", "--json"), &sq); err != nil {
		t.Fatal(err)
	}
	if sq.BlobStoreResult.NewlyCreated == nil || sq.BlobStoreResult.NewlyCreated.BlobObject.BlobID != dry.QuiltBlobOutput.BlobID || len(sq.StoredQuiltBlobs) != 4 {
		t.Fatalf("store-quilt: %+v, dry run said %s", sq, dry.QuiltBlobOutput.BlobID)
	}
	qid := dry.QuiltBlobOutput.BlobID

	// --quilt-id alone reads every patch.
	all := t.TempDir()
	floe(t, "read-quilt", "--quilt-id", qid, "--out", all)
	for name, want := range files {
		if got, err := os.ReadFile(filepath.Join(all, name)); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("read-quilt --quilt-id alone: %s: %v", name, err)
		}
	}
	if got := floe(t, "read-quilt", "--quilt-id", qid, "--identifier", "f2.txt"); !bytes.Equal(got, files["f2.txt"]) {
		t.Fatal("read-quilt --identifier: wrong bytes")
	}
	// Without --out, several patches' bytes one after the other, as Walrus prints them.
	if got := floe(t, "read-quilt", "--quilt-id", qid, "--identifiers", "f3.txt", "f1.txt"); !bytes.Equal(got, append(slices.Clone(files["f3.txt"]), files["f1.txt"]...)) {
		t.Fatalf("read-quilt of two patches to standard output: %d bytes", len(got))
	}
	if got := floe(t, "read-quilt", "--patch-ids", sq.StoredQuiltBlobs[1].QuiltPatchID); !bytes.Equal(got, files[sq.StoredQuiltBlobs[1].Identifier]) {
		t.Fatal("read-quilt --patch-ids: wrong bytes")
	}

	// JSON mode: --blobs as objects with tags; read by tag in both forms and in JSON mode.
	a, b := filepath.Join(dir, "f0.txt"), filepath.Join(dir, "f1.txt")
	cmd := fmt.Sprintf(`{"config": %q, "command": {"storeQuilt": {"blobs": [{"path": %q, "identifier": "x", "tags": {"kind": "report"}}, {"path": %q, "identifier": "y"}], "epochs": 1}}}`,
		info.ClientConfig, a, b)
	var tq quiltStoreOutput
	if err := json.Unmarshal(floe(t, "json", cmd), &tq); err != nil || len(tq.StoredQuiltBlobs) != 2 || tq.BlobStoreResult.NewlyCreated == nil {
		t.Fatalf("json storeQuilt: %+v %v", tq, err)
	}
	tqid := tq.BlobStoreResult.NewlyCreated.BlobObject.BlobID
	for _, args := range [][]string{{"--tag", "kind", "report"}, {"--tag", "kind=report"}} {
		if got := floe(t, append([]string{"read-quilt", "--quilt-id", tqid}, args...)...); !bytes.Equal(got, files["f0.txt"]) {
			t.Fatalf("read-quilt %q: wrong bytes", args)
		}
	}
	out := t.TempDir()
	var rq quiltReadOutput
	cmd = fmt.Sprintf(`{"config": %q, "command": {"readQuilt": {"quiltId": %q, "tag": ["kind", "report"], "out": %q}}}`, info.ClientConfig, tqid, out)
	if err := json.Unmarshal(floe(t, "json", cmd), &rq); err != nil || len(rq.Patches) != 1 || rq.Patches[0].Identifier != "x" || rq.Patches[0].Tags["kind"] != "report" {
		t.Fatalf("json readQuilt: %+v %v", rq, err)
	}
	var lp struct {
		Patches []struct {
			Identifier string `json:"identifier"`
		} `json:"patches"`
	}
	if err := json.Unmarshal(floe(t, "resolve-quilt", tqid, "--json"), &lp); err != nil || len(lp.Patches) != 2 ||
		!slices.ContainsFunc(lp.Patches, func(p struct {
			Identifier string `json:"identifier"`
		}) bool {
			return p.Identifier == "y"
		}) {
		t.Fatalf("resolve-quilt: %+v %v", lp, err)
	}

	// --share --permanent puts the quilt into a shared blob object.
	var shq quiltStoreOutput
	if err := json.Unmarshal(floe(t, "store-quilt", "--paths", a, "--epochs", "1", "--permanent", "--share", "--force", "--json"), &shq); err != nil {
		t.Fatal(err)
	}
	nc := shq.BlobStoreResult.NewlyCreated
	if nc == nil || nc.SharedBlobObject == "" || nc.SharedBlobObject != nc.BlobObject.ID {
		t.Fatalf("store-quilt --share: %+v", shq.BlobStoreResult)
	}
	// Only a shared blob object can be funded.
	floe(t, "fund-shared-blob", "--shared-blob-obj-id", nc.SharedBlobObject, "--amount", "100")
}
