package client

import (
	"bytes"
	"errors"
	"io"
	"testing"
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
