package client

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	api "github.com/floelabs/floe/api/storagenode"
)

// TestBatchBody builds batch bodies of frames of mixed sizes through batchBody and checks
// that reading them (by Read with odd buffer sizes, and by WriteTo), twice from the same body,
// gives exactly what the same frames written (some with their data as file sections) to a bytes.Buffer give, and that the batch decoder
// reads the frames back.
func TestBatchBody(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		var want bytes.Buffer
		body := &batchBody{}
		wb, _ := api.NewBatchWriter(&want)
		bb, _ := api.NewBatchWriter(body)
		frames := r.IntN(40)
		var payloads [][]byte
		for f := range frames {
			head := make([]byte, r.IntN(10))
			data := make([]byte, r.IntN(3)*r.IntN(20000))
			tail := make([]byte, r.IntN(5))
			for _, b := range [][]byte{head, data, tail} {
				for i := range b {
					b[i] = byte(r.Uint32())
				}
			}
			payloads = append(payloads, append(append(append([]byte{}, head...), data...), tail...))
			if err := wb.WriteSliverParts(uint16(f), f%2 == 1, head, data, tail); err != nil {
				t.Fatal(err)
			}
			if f%3 == 2 { // data from a file section, as for spilled slivers
				if err := bb.WriteSliverHeader(uint16(f), f%2 == 1, int64(len(head)+len(data)+len(tail))); err != nil {
					t.Fatal(err)
				}
				body.Write(head)
				body.addSection(io.NewSectionReader(bytes.NewReader(data), 0, int64(len(data))))
				body.Write(tail)
			} else if err := bb.WriteSliverParts(uint16(f), f%2 == 1, head, data, tail); err != nil {
				t.Fatal(err)
			}
		}
		wb.Close()
		bb.Close()
		if body.size != int64(want.Len()) {
			t.Fatalf("round %d: size %d, want %d", round, body.size, want.Len())
		}
		for pass := range 2 {
			rd := body.reader()
			if rd.Len() != want.Len() {
				t.Fatalf("round %d: Len %d, want %d", round, rd.Len(), want.Len())
			}
			var got bytes.Buffer
			if pass == 0 {
				buf := make([]byte, 1+r.IntN(5000))
				for {
					n, err := rd.Read(buf)
					got.Write(buf[:n])
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
				}
			} else if _, err := rd.WriteTo(&got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) || rd.Len() != 0 {
				t.Fatalf("round %d pass %d: body differs (%d bytes, want %d; %d left)", round, pass, got.Len(), want.Len(), rd.Len())
			}
		}
		br := api.NewBatchReader(body.reader(), 1<<20)
		for i := 0; ; i++ {
			f, err := br.Next()
			if err == io.EOF {
				if i != frames {
					t.Fatalf("round %d: %d frames, want %d", round, i, frames)
				}
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(f.Payload, payloads[i]) || int(f.Pair) != i {
				t.Fatalf("round %d: frame %d differs", round, i)
			}
		}
	}
}
