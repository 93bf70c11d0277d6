package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBlobIDKnownAnswer(t *testing.T) {
	f := writeFile(t, "kat", []byte("walrus blob id v1 regression test"))
	code, out, errs := run(t, "blob-id", "--n-shards", "10", f)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := "RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY  " + f + "\n"
	if out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
	// Flags after the file, JSON output.
	code, out, errs = run(t, "blob-id", f, "--n-shards=10", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res blobIDOutput
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bad JSON %q: %v", out, err)
	}
	if res != (blobIDOutput{File: f, BlobID: "RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY", UnencodedLength: 33, EncodingType: "RS2"}) {
		t.Fatalf("got %+v", res)
	}
}

// isolate makes the configuration search find nothing: no ./client_config.yaml, no
// $XDG_CONFIG_HOME, no home directory and no default devnet.
func isolate(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
}

func TestBlobIDDefaultShards(t *testing.T) {
	isolate(t)
	// Vector n1000-len0 (the empty blob) from the Walrus encoder.
	f := writeFile(t, "empty", nil)
	code, out, errs := run(t, "blob-id", "--json", f)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res blobIDOutput
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.UnencodedLength != 0 || res.BlobID != "3GPQL3HZNnFhN_F7l5Aa-X1VOtAKwIsg9zuWk8R81v4" {
		t.Fatalf("got %+v", res)
	}
	// A configuration naming n_shards is used without contacting the network.
	cfg := writeFile(t, "client_config.yaml", []byte("control_plane_url: http://127.0.0.1:1\nn_shards: 10\n"))
	kat := writeFile(t, "kat", []byte("walrus blob id v1 regression test"))
	if code, out, errs := run(t, "--config", cfg, "blob-id", kat); code != 0 || !strings.HasPrefix(out, "RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY") {
		t.Fatalf("n_shards from the configuration: exit %d %q %q", code, out, errs)
	}
}

func TestBlobIDErrors(t *testing.T) {
	isolate(t)
	// At n = 4 the limit is K_p*K_s*65534 = 2*3*65534 = 393204 bytes.
	big := writeFile(t, "big", make([]byte, 393205))
	ok := writeFile(t, "ok", make([]byte, 393204))
	code, out, errs := run(t, "blob-id", "--n-shards", "4", big, ok)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errs, "393204") || !strings.Contains(errs, "too large") {
		t.Fatalf("error does not name the limit: %q", errs)
	}
	if !strings.Contains(out, ok) || strings.Contains(out, big) {
		t.Fatalf("output %q: the good file must still be printed, the bad one not", out)
	}

	for _, args := range [][]string{
		{"blob-id"},
		{"blob-id", "--n-shards", "3", ok},
		{"blob-id", "--n-shards", "x", ok},
		{"blob-id", "--bogus", ok},
		{"no-such-command"},
	} {
		if code, _, _ := run(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, errs := run(t, "blob-id", filepath.Join(t.TempDir(), "missing")); code != 1 || !strings.Contains(errs, "no such file") {
		t.Errorf("missing file: exit %d, %q", code, errs)
	}
}

// TestBlobIDReadsFilesInPlace checks that blob-id, which reads regular files as the encoder
// needs them, gives the blob ID of the file's bytes in memory.
func TestBlobIDReadsFilesInPlace(t *testing.T) {
	data := make([]byte, 300007)
	for i := range data {
		data[i] = byte(i*131 + i>>7)
	}
	f := writeFile(t, "blob", data)
	for _, n := range []int{10, 100} {
		enc, err := redstuff.New(n)
		if err != nil {
			t.Fatal(err)
		}
		c, err := enc.Commit(data)
		if err != nil {
			t.Fatal(err)
		}
		want := blob.DeriveID(blob.RS2, c.Length, c.Root).String()
		code, out, errs := run(t, "blob-id", "--n-shards", strconv.Itoa(n), f)
		if code != 0 || out != want+"  "+f+"\n" {
			t.Fatalf("n=%d: exit %d, %q (%s), want %s", n, code, out, errs, want)
		}
		// The bounded path of large files (commitBounded) gives the same ID and leaves no
		// temporary file.
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		res, err := blobIDOfFileBounded(enc, f, 1000)
		if err != nil || res.BlobID != want {
			t.Fatalf("n=%d: bounded: %+v, %v; want %s", n, res, err, want)
		}
		if es, err := os.ReadDir(tmp); err != nil || len(es) != 0 {
			t.Fatalf("n=%d: bounded: %d temporary files left (%v)", n, len(es), err)
		}
	}
}
