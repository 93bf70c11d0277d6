//go:build linux

package uring

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func newRing(t *testing.T) *Ring {
	t.Helper()
	r, err := New(8)
	if errors.Is(err, ErrUnsupported) {
		t.Skipf("this kernel refuses io_uring: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("close: %v", err)
		}
	})
	return r
}

func TestWriteSyncTruncate(t *testing.T) {
	r := newRing(t)
	path := filepath.Join(t.TempDir(), "f")
	open, err := Openat(unix.AT_FDCWD, path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(open)
	if err != nil || res[0].Err != nil {
		t.Fatalf("open: %v %v", err, res)
	}
	fd := res[0].N
	defer unix.Close(fd)
	a, b := bytes.Repeat([]byte("a"), 5000), bytes.Repeat([]byte("b"), 3000)
	res, err = r.Run(Writev(fd, 0, [][]byte{a, nil, b}).Linked(), Writev(fd, 100, [][]byte{[]byte("xyz")}).Linked(),
		Ftruncate(fd, 7000).Linked(), Fsync(fd, false))
	if err != nil {
		t.Fatal(err)
	}
	if res[0].N != 8000 || res[0].Err != nil || res[1].N != 3 || res[1].Err != nil || res[3].Err != nil {
		t.Fatalf("results %+v", res)
	}
	want := append(append([]byte{}, a...), b...)
	copy(want[100:], "xyz")
	if errors.Is(res[2].Err, syscall.EINVAL) {
		t.Logf("ftruncate through the ring not supported by this kernel; the size stays 8000")
	} else {
		if res[2].Err != nil {
			t.Fatalf("ftruncate: %v", res[2].Err)
		}
		want = want[:7000]
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("file holds %d bytes (%v), want %d", len(got), err, len(want))
	}
}

func TestErrorsAndCancel(t *testing.T) {
	r := newRing(t)
	// A write to a descriptor that is not open fails; the operation linked after it is
	// cancelled; an unlinked one after that still runs.
	dir := t.TempDir()
	open, err := Openat(unix.AT_FDCWD, filepath.Join(dir, "missing", "f"), unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(Writev(1<<20, 0, [][]byte{[]byte("x")}).Linked(), Fsync(1<<20, true), open)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res[0].Err, syscall.EBADF) || !errors.Is(res[1].Err, syscall.ECANCELED) || !errors.Is(res[2].Err, syscall.ENOENT) {
		t.Fatalf("results %+v, want EBADF, ECANCELED, ENOENT", res)
	}
	if _, err := r.Run(make([]Op, 9)...); err == nil {
		t.Fatal("ran more operations than the ring holds")
	}
}

func TestConcurrentRuns(t *testing.T) {
	// More goroutines than slots, each writing its own file and syncing it: every result
	// reaches its own caller.
	r := newRing(t)
	dir := t.TempDir()
	var wg sync.WaitGroup
	for g := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.Create(filepath.Join(dir, string(rune('a'+g))))
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			for i := range 30 {
				body := bytes.Repeat([]byte{byte(g)}, 100+g*10+i)
				res, err := r.Run(Writev(int(f.Fd()), int64(i)*1000, [][]byte{body}).Linked(), Fsync(int(f.Fd()), true))
				if err != nil || res[0].N != len(body) || res[0].Err != nil || res[1].Err != nil {
					t.Errorf("goroutine %d write %d: %v %+v", g, i, err, res)
					return
				}
			}
			got, err := os.ReadFile(f.Name())
			if err != nil || len(got) != 29*1000+100+g*10+29 || got[29000] != byte(g) {
				t.Errorf("goroutine %d: file of %d bytes (%v)", g, len(got), err)
			}
		}()
	}
	wg.Wait()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(Fsync(0, false)); !errors.Is(err, ErrClosed) {
		t.Fatalf("run after close: %v", err)
	}
	if err := r.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
}
