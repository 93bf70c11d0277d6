package daemon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/blob"
)

// fileMem is memBlobs that can store from a file: it reads the file back (checking that it
// holds the body) and counts the stores that came from one.
type fileMem struct {
	*memBlobs
	files     int
	lastFile  string
	lastFileN int64
}

func (f *fileMem) StoreFile(ctx context.Context, r io.ReaderAt, size int64, p StoreParams) (*api.BlobStoreResult, error) {
	data := make([]byte, size)
	if n, err := r.ReadAt(data, 0); int64(n) != size {
		return nil, fmt.Errorf("reading the spilled body: %d of %d bytes: %w", n, size, err)
	}
	f.mu.Lock()
	f.files++
	if of, ok := r.(*os.File); ok {
		f.lastFile = of.Name()
	}
	f.lastFileN = size
	f.mu.Unlock()
	return f.Store(ctx, data, p)
}

func (f *fileMem) fileStores() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.files
}

func dirEntries(t *testing.T, dir string) int {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// A PUT body larger than SpillAbove is received into a file in SpillDir and stored from it,
// with or without a Content-Length; the file is gone once the store answered, whether it
// succeeded or failed. A smaller body stays in memory, and a Blobs that cannot store from a
// file gets every body in memory.
func TestPutSpillsLargeBodies(t *testing.T) {
	dir := t.TempDir()
	m := &fileMem{memBlobs: newMem()}
	s, base := startServer(t, Config{Publisher: true, Aggregator: true, Blobs: m, MaxBodySize: 4 << 20, SpillAbove: 256 << 10, SpillDir: dir})
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	big[12345] = 7
	for i, chunked := range []bool{false, true} {
		body := append([]byte{byte(i)}, big...)
		req, err := http.NewRequest("PUT", base+"/v1/blobs", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if chunked {
			req.Body = io.NopCloser(bytes.NewReader(body)) // no length: sent chunked
			req.ContentLength = -1
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("chunked=%v: %d %s", chunked, resp.StatusCode, out)
		}
		if m.fileStores() != i+1 || m.lastFileN != int64(len(body)) {
			t.Fatalf("chunked=%v: %d stores from a file, last of %d bytes; want %d, %d", chunked, m.fileStores(), m.lastFileN, i+1, len(body))
		}
		if r := do(t, "GET", base+"/v1/blobs/"+blob.ID(sha256.Sum256(body)).String(), nil, nil); r.code != 200 || !bytes.Equal(r.body, body) {
			t.Fatalf("chunked=%v: the stored blob differs from the body (%d)", chunked, r.code)
		}
		if n := dirEntries(t, dir); n != 0 {
			t.Fatalf("chunked=%v: %d files left in the spill directory", chunked, n)
		}
		if m.lastFile == "" || filepath.Dir(m.lastFile) != dir {
			t.Fatalf("chunked=%v: spilled to %q, not into %s", chunked, m.lastFile, dir)
		}
	}
	if s.spill.inUse() != 0 {
		t.Fatalf("%d bytes of spill budget still held", s.spill.inUse())
	}
	// A small body stays in memory.
	if r := do(t, "PUT", base+"/v1/blobs", []byte("small"), nil); r.code != 200 || m.fileStores() != 2 {
		t.Fatalf("small body: %d, %d stores from a file", r.code, m.fileStores())
	}
	// A failed store removes its file too.
	m.storeErr = fmt.Errorf("nodes away: %w", ErrInsufficientConfirmations)
	r := do(t, "PUT", base+"/v1/blobs", big, nil)
	wantError(t, r, http.StatusGatewayTimeout, api.ReasonInsufficientConfirmations)
	if n := dirEntries(t, dir); n != 0 || s.spill.inUse() != 0 {
		t.Fatalf("after a failed store: %d files left, %d bytes of budget held", n, s.spill.inUse())
	}
	m.storeErr = nil
	// Too large a body is refused, while it spills too.
	for _, chunked := range []bool{false, true} {
		req, _ := http.NewRequest("PUT", base+"/v1/blobs", bytes.NewReader(make([]byte, 5<<20)))
		if chunked {
			req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(make([]byte, 5<<20))), -1
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("chunked=%v: a body over MaxBodySize: %d", chunked, resp.StatusCode)
		}
	}
	waitFor(t, "the refused bodies' files to go", func() bool { return dirEntries(t, dir) == 0 && s.spill.inUse() == 0 })

	// Without StoreFile, bodies stay in memory.
	plain := newMem()
	_, base2 := startServer(t, Config{Publisher: true, Blobs: plain, MaxBodySize: 4 << 20, SpillAbove: 256 << 10, SpillDir: dir})
	if r := do(t, "PUT", base2+"/v1/blobs", big, nil); r.code != 200 || plain.storeCalls() != 1 {
		t.Fatalf("a Blobs without StoreFile: %d %s", r.code, r.body)
	}
}

// Spilled bodies are bounded by MaxSpillBytes: past it a PUT gets 429 while the others wait
// in their stores, and goes through once they are done.
func TestPutSpillBudget(t *testing.T) {
	dir := t.TempDir()
	m := &fileMem{memBlobs: newMem()}
	m.block = make(chan struct{})
	s, base := startServer(t, Config{Publisher: true, Blobs: m, MaxBodySize: 4 << 20, SpillAbove: 64 << 10, SpillDir: dir, MaxSpillBytes: 2 << 20})
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("PUT", base+"/v1/blobs", bytes.NewReader(make([]byte, 1536<<10)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{code: -1, body: []byte(err.Error())}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{code: resp.StatusCode, body: b}
	}()
	waitFor(t, "the first body to spill and wait in its store", func() bool { return m.storeCalls() == 1 })
	if got := s.spill.inUse(); got != 2<<20 {
		t.Fatalf("spill budget in use %d, want %d (1.5 MiB in 1 MiB steps)", got, 2<<20)
	}
	r := do(t, "PUT", base+"/v1/blobs", make([]byte, 512<<10), nil)
	wantError(t, r, http.StatusTooManyRequests, api.ReasonTooManyRequests)
	close(m.block)
	if r := <-done; r.code != 200 {
		t.Fatalf("the waiting store: %d %s", r.code, r.body)
	}
	waitFor(t, "the budget to come back", func() bool { return s.spill.inUse() == 0 })
	if r := do(t, "PUT", base+"/v1/blobs", make([]byte, 512<<10), nil); r.code != 200 {
		t.Fatalf("after the first store: %d %s", r.code, r.body)
	}
	if n := dirEntries(t, dir); n != 0 {
		t.Fatalf("%d files left in the spill directory", n)
	}
}

// A full disk, while spilling a body or while the SDK writes its slivers, is 507.
func TestDiskFullIs507(t *testing.T) {
	for _, err := range []error{
		diskError(fmt.Errorf("daemon: spilling the request body: %w", &os.PathError{Op: "write", Path: "/tmp/x", Err: syscall.ENOSPC})),
		diskError(fmt.Errorf("client: encoding: %w", &os.PathError{Op: "write", Path: "/tmp/y", Err: syscall.EDQUOT})),
	} {
		if !errors.Is(err, errDiskFull) {
			t.Fatalf("%v is not errDiskFull", err)
		}
		if code, reason := statusOf(err); code != http.StatusInsufficientStorage || reason != api.ReasonInsufficientStorage {
			t.Fatalf("%v: %d %s, want 507 %s", err, code, reason, api.ReasonInsufficientStorage)
		}
	}
	if err := diskError(errors.New("other")); errors.Is(err, errDiskFull) {
		t.Fatal("any error is a full disk")
	}
}
