package client

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/floelabs/floe/redstuff"
)

// TestSliverMemoryReuse checks that a finished in-memory encoding's buffer is reused by the
// next encoding that fits in it, and that upload bodies referring to the first encoding's
// slivers fail once it was closed instead of reading the reused memory.
func TestSliverMemoryReuse(t *testing.T) {
	enc, err := redstuff.New(10)
	if err != nil {
		t.Fatal(err)
	}
	p := enc.Params()
	var mem sliverMemory
	defer mem.release()
	encode := func(data []byte) *encodedBlob {
		need, err := enc.SliverMemory(uint64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		e, err := enc.EncodeInto(data, mem.take(need))
		if err != nil {
			t.Fatal(err)
		}
		return &encodedBlob{Commitment: e.Commitment, params: p, mem: e, reuse: &mem, guard: &memGuard{}}
	}
	data := bytes.Repeat([]byte("floe"), 10_000)
	first := encode(data)
	body := &batchBody{}
	if _, err := first.writeSliver(body, nil, 3, redstuff.Primary); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(body.Reader()); err != nil {
		t.Fatalf("reading an upload body during the store: %v", err)
	}
	firstMem := unsafe.SliceData(first.mem.Memory())
	first.close()
	if _, err := io.ReadAll(body.Reader()); !errors.Is(err, errBodyRevoked) {
		t.Fatalf("Read of an upload body after the store: %v, want errBodyRevoked", err)
	}
	if _, err := body.reader().WriteTo(io.Discard); !errors.Is(err, errBodyRevoked) {
		t.Fatalf("WriteTo of an upload body after the store: %v, want errBodyRevoked", err)
	}

	// A smaller blob reuses the buffer; its encoding is Encode's.
	small := data[:len(data)/2]
	second := encode(small)
	if unsafe.SliceData(second.mem.Memory()) != firstMem {
		t.Fatal("the second encoding did not reuse the first one's memory")
	}
	want, err := enc.Encode(small)
	if err != nil {
		t.Fatal(err)
	}
	if second.Root != want.Root || !bytes.Equal(second.mem.Primary[7], want.Primary[7]) {
		t.Fatal("the encoding into reused memory differs from Encode's")
	}
	second.close()
	// A larger blob does not fit: new memory, and the held buffer stays for later.
	third := encode(append(data, data...))
	if unsafe.SliceData(third.mem.Memory()) == firstMem {
		t.Fatal("a larger encoding reused a buffer too small for it")
	}
	if mem.take(1) == nil {
		t.Fatal("the held buffer was dropped by a store it did not fit")
	}
}

// TestSliverMemoryMapped checks that a buffer mapped by alloc holds an encoding equal to
// Encode's, is reused once given back, and is unmapped (forgotten) when another buffer
// replaces it or at release.
func TestSliverMemoryMapped(t *testing.T) {
	enc, err := redstuff.New(10)
	if err != nil {
		t.Fatal(err)
	}
	var mem sliverMemory
	defer mem.release()
	data := bytes.Repeat([]byte("mapped"), 20_000)
	need, err := enc.SliverMemory(uint64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	buf := mem.alloc(need)
	if buf == nil {
		t.Skipf("SKIPPED: no mapped sliver memory on %s (the encoder allocates its own)", runtime.GOOS)
	}
	if len(buf) != need || len(mem.mapped) != 1 {
		t.Fatalf("alloc(%d): %d bytes, %d mappings", need, len(buf), len(mem.mapped))
	}
	e, err := enc.EncodeInto(data, buf)
	if err != nil {
		t.Fatal(err)
	}
	if unsafe.SliceData(e.Memory()) != unsafe.SliceData(buf) {
		t.Fatal("the encoding did not use the mapped buffer")
	}
	want, err := enc.Encode(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want.Primary {
		if !bytes.Equal(e.Primary[i], want.Primary[i]) || !bytes.Equal(e.Secondary[i], want.Secondary[i]) {
			t.Fatalf("sliver pair %d in mapped memory differs from Encode's", i)
		}
	}
	if e.Root != want.Root {
		t.Fatal("the root of the encoding in mapped memory differs from Encode's")
	}
	mem.give(e.Memory())
	again := mem.take(need)
	if unsafe.SliceData(again) != unsafe.SliceData(buf) {
		t.Fatal("the mapped buffer was not reused")
	}
	// Another buffer given back replaces it: the mapped one is unmapped.
	mem.give(again)
	mem.give(make([]byte, need))
	if len(mem.mapped) != 0 {
		t.Fatalf("%d mappings left after the mapped buffer was replaced", len(mem.mapped))
	}
	// A held mapped buffer is unmapped at release.
	mem.give(mem.alloc(need))
	mem.release()
	if len(mem.mapped) != 0 || mem.buf != nil {
		t.Fatalf("%d mappings and a held buffer left after release", len(mem.mapped))
	}
}

// TestSliverMemoryHold: a buffer given back is kept past keep while memory is plentiful,
// dropped once keepMax has passed, and dropped after keep when memory is short.
func TestSliverMemoryHold(t *testing.T) {
	var plenty atomic.Bool
	plenty.Store(true)
	m := &sliverMemory{keep: 10 * time.Millisecond, keepMax: 2 * time.Second, plenty: func(int) bool { return plenty.Load() }}
	defer m.release()
	held := func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.buf != nil
	}
	waitDropped := func(within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for held() {
			if time.Since(start) > within {
				t.Fatalf("the buffer is still held %v later", within)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(start)
	}
	given := time.Now()
	m.give(make([]byte, 1<<10))
	time.Sleep(300 * time.Millisecond)
	if !held() {
		t.Fatal("the buffer was dropped while memory is plentiful, before keepMax")
	}
	waitDropped(10 * time.Second)
	if d := time.Since(given); d < 2*time.Second-10*time.Millisecond {
		t.Fatalf("dropped %v after it was given back, before keepMax", d)
	}
	plenty.Store(false)
	m.give(make([]byte, 1<<10))
	waitDropped(5 * time.Second)
}

func TestMemAvailable(t *testing.T) {
	avail, total, ok := memAvailable()
	if !ok {
		if runtime.GOOS == "linux" {
			t.Fatal("memAvailable cannot read /proc/meminfo on Linux")
		}
		return
	}
	if total == 0 || avail > total {
		t.Fatalf("MemAvailable %d, MemTotal %d", avail, total)
	}
}
