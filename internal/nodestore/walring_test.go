package nodestore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/floelabs/floe/internal/uring"
)

func TestRingFileWrites(t *testing.T) {
	r, err := uring.New(4)
	if errors.Is(err, uring.ErrUnsupported) {
		t.Skipf("no io_uring: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fs := &ringFS{FS: vfs.Default, ring: r}
	dir := t.TempDir()
	// A log file goes through the ring; another file does not.
	other, err := fs.Create(filepath.Join(dir, "table"), "pebble-table")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, ok := other.(*ringFile); ok {
		t.Fatal("a table file went through the ring")
	}
	want := bytes.Repeat([]byte("0123456789"), 30000)
	for _, reuse := range []bool{false, true} {
		var (
			f   vfs.File
			err error
		)
		path := filepath.Join(dir, "000002.log")
		if reuse {
			// A recycled log is written over from its start (and is longer than what is
			// written now).
			f, err = fs.ReuseForWrite(filepath.Join(dir, "000001.log"), path, walCategory)
		} else {
			f, err = fs.Create(filepath.Join(dir, "000001.log"), walCategory)
			path = filepath.Join(dir, "000001.log")
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := f.(*ringFile); !ok {
			t.Fatalf("a log file (reuse %v) does not go through the ring: %T", reuse, f)
		}
		if err := f.Preallocate(0, 1<<20); err != nil {
			t.Fatal(err)
		}
		data := want
		if reuse {
			data = bytes.ToUpper(want[:1000])
		}
		for i := 0; i < len(data); i += 7777 {
			if n, err := f.Write(data[i:min(len(data), i+7777)]); err != nil || n != min(7777, len(data)-i) {
				t.Fatalf("write at %d: %d, %v", i, n, err)
			}
		}
		if err := errors.Join(f.SyncData(), f.Sync()); err != nil {
			t.Fatal(err)
		}
		if full, err := f.SyncTo(100); !full || err != nil {
			t.Fatalf("SyncTo: %v %v", full, err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		expect := want
		if reuse {
			expect = append(bytes.ToUpper(want[:1000]), want[1000:]...)
		}
		if !bytes.Equal(got, expect) {
			t.Fatalf("log file (reuse %v) holds %d bytes, not the %d written", reuse, len(got), len(expect))
		}
	}
}

func TestStoreOnDiskUsesRing(t *testing.T) {
	// A store on the operating system's file system writes its log and extents through a
	// ring where the kernel provides one, and what it committed is there after a reopen.
	if r, err := uring.New(2); err != nil {
		t.Skipf("no io_uring: %v", err)
	} else {
		_ = r.Close()
	}
	dir := t.TempDir()
	s, err := Open(dir, &Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if s.ring == nil || s.ext.dw.ring != s.ring {
		t.Fatal("the store has no ring")
	}
	putBig(t, s, id(3), 11, 1, 2, 3)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, &Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkBig(t, s, id(3), 11, 1, 2, 3)
}
