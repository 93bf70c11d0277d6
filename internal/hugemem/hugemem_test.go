package hugemem

import (
	"runtime"
	"testing"
	"unsafe"
)

func TestClassSize(t *testing.T) {
	for _, tc := range []struct{ n, want int }{
		{1, MinSize}, {MinSize, MinSize}, {MinSize + 1, MinSize + MinSize/4},
		{600_000, 640 << 10}, {640 << 10, 640 << 10}, {1 << 20, 1 << 20}, {1<<20 + 1, 1<<20 + 256<<10},
	} {
		if got := ClassSize(tc.n); got != tc.want {
			t.Errorf("ClassSize(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
	for n := MinSize; n < 64<<20; n += 4093 {
		c := ClassSize(n)
		if c < n || c%4096 != 0 || c > n+n/4+4096 {
			t.Fatalf("ClassSize(%d) = %d: not a multiple of 4 KiB at most a quarter above n", n, c)
		}
	}
}

// TestArena: buffers are handed out in their class, 4 KiB-aligned, distinct while handed
// out; one given back is handed out again for its class; a buffer not the Arena's, a slice
// of one and a second Put are refused without harm; at the limit Get returns nil; small
// sizes are not served.
func TestArena(t *testing.T) {
	a := New(64 << 20)
	if a.Get(MinSize-1) != nil {
		t.Fatal("Get below MinSize gave a buffer")
	}
	b := a.Get(600_000)
	if b == nil {
		if runtime.GOOS == "linux" {
			t.Fatal("no buffer on Linux")
		}
		return // nothing mapped elsewhere: callers allocate their own
	}
	if len(b) != 600_000 || cap(b) != ClassSize(600_000) || uintptr(unsafe.Pointer(&b[0]))%4096 != 0 {
		t.Fatalf("buffer: len %d, cap %d, address %p", len(b), cap(b), &b[0])
	}
	for i := range b {
		b[i] = byte(i)
	}
	c := a.Get(700_000)
	if &c[0] == &b[0] || uintptr(unsafe.Pointer(&c[0])) < uintptr(unsafe.Pointer(&b[0]))+uintptr(cap(b)) && uintptr(unsafe.Pointer(&c[0])) >= uintptr(unsafe.Pointer(&b[0])) {
		t.Fatal("two buffers handed out overlap")
	}
	if mapped, out := a.Stats(); mapped != chunkSize || out != cap(b)+cap(c) {
		t.Fatalf("stats: mapped %d, out %d", mapped, out)
	}
	if !a.Put(b[:10]) {
		t.Fatal("Put of the Arena's buffer reported it foreign")
	}
	if !a.Put(b) { // twice
		t.Fatal("second Put of a buffer reported it foreign")
	}
	if again := a.Get(590_000); &again[0] != &b[0] {
		t.Fatal("a buffer given back was not reused for its class")
	}
	if d := a.Get(590_000); &d[0] == &b[0] {
		t.Fatal("a buffer given back twice was handed out twice")
	}
	if !a.Put(c[4096:]) {
		t.Fatal("Put of a slice of a buffer reported it foreign")
	}
	if e := a.Get(700_000); &e[0] == &c[4096] {
		t.Fatal("a slice of a buffer was handed out")
	}
	if a.Put(make([]byte, MinSize)) {
		t.Fatal("Put of a foreign buffer reported it the Arena's")
	}
	// Up to the limit, then nil.
	var n int
	for a.Get(8<<20) != nil {
		n++
		if n > 100 {
			t.Fatal("the Arena went past its limit")
		}
	}
	if mapped, _ := a.Stats(); mapped > 64<<20 {
		t.Fatalf("mapped %d bytes, limit %d", mapped, 64<<20)
	}
	// A buffer larger than a chunk gets one of its own.
	big := New(128 << 20)
	if g := big.Get(40 << 20); g == nil || cap(g) != ClassSize(40<<20) {
		t.Fatal("a buffer larger than a chunk")
	}
}

// BenchmarkArena measures Get and Put of sliver-sized buffers.
func BenchmarkArena(b *testing.B) {
	a := New(256 << 20)
	b.SetBytes(600_000)
	for b.Loop() {
		buf := a.Get(600_000)
		a.Put(buf)
	}
}
