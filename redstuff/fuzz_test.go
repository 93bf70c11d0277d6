package redstuff_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/floelabs/floe/redstuff"
)

// FuzzDecode builds a sliver list from fuzz bytes (axis, index, length change and corruption
// per sliver) over an honest encoding: Decode must never panic, and whenever it succeeds with
// the consistency check it returns the original blob unless a sliver was corrupted.
func FuzzDecode(f *testing.F) {
	const n = 10
	enc, err := redstuff.New(n)
	if err != nil {
		f.Fatal(err)
	}
	data := randomBlob(777, 4)
	e, err := enc.Encode(data)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0})
	f.Add([]byte{1, 9, 0, 0, 1, 8, 0, 0, 1, 7, 0, 0, 1, 6, 0, 0, 1, 5, 0, 0, 1, 4, 0, 0, 1, 3, 0, 0})
	f.Add([]byte{0, 0, 3, 0, 0, 0, 0, 0, 0, 200, 0, 0, 2, 1, 0, 9})
	f.Fuzz(func(t *testing.T, in []byte) {
		var sl []redstuff.Sliver
		corrupted := false
		for len(in) >= 4 {
			axis := redstuff.Axis(in[0] % 3)
			idx := int(int8(in[1]))
			cut := int(in[2] % 4)
			flip := in[3]
			in = in[4:]
			var d []byte
			if idx >= 0 && idx < n {
				if axis == redstuff.Primary {
					d = e.Primary[idx]
				} else {
					d = e.Secondary[idx]
				}
			}
			d = bytes.Clone(d)
			if cut > 0 && len(d) >= cut {
				d = d[:len(d)-cut]
			}
			if flip != 0 && len(d) > 0 {
				d[int(flip)%len(d)] ^= flip
				corrupted = true
			}
			sl = append(sl, redstuff.Sliver{Axis: axis, Index: idx, SymbolSize: e.SymbolSize, Data: d})
		}
		got, err := enc.Decode(uint64(len(data)), sl, e.Hashes)
		if err != nil {
			if !errors.Is(err, redstuff.ErrNotEnoughSlivers) && !errors.Is(err, redstuff.ErrInconsistent) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if !corrupted && !bytes.Equal(got, data) {
			t.Fatalf("decoded blob differs without corruption")
		}
	})
}

// FuzzRecoverSliver feeds recovery symbols with fuzzed indices, axes, data and proofs to
// RecoverSliver and VerifyInconsistencyProof: errors, never panics, and a success returns
// the honest sliver.
func FuzzRecoverSliver(f *testing.F) {
	const n = 7
	enc, err := redstuff.New(n)
	if err != nil {
		f.Fatal(err)
	}
	e, err := enc.Encode(randomBlob(500, 6))
	if err != nil {
		f.Fatal(err)
	}
	var pool []redstuff.RecoverySymbol
	for src := 0; src < n; src++ {
		rs, err := enc.RecoverySymbols(redstuff.Sliver{Axis: redstuff.Secondary, Index: src, SymbolSize: e.SymbolSize, Data: e.Secondary[src]}, []int{2})
		if err != nil {
			f.Fatal(err)
		}
		pool = append(pool, rs...)
	}
	f.Add([]byte{0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4, 0, 0})
	f.Add([]byte{0, 1, 9, 1, 255, 0, 2, 3, 1, 3, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		var syms []redstuff.RecoverySymbol
		for len(in) >= 3 {
			s := pool[int(in[0])%len(pool)]
			s.Data = bytes.Clone(s.Data)
			s.Proof = append(s.Proof[:0:0], s.Proof...)
			switch in[1] % 6 {
			case 1:
				s.Data[int(in[2])%len(s.Data)] ^= in[2] | 1
			case 2:
				s.SourceIndex = int(int8(in[2]))
			case 3:
				s.TargetIndex = int(int8(in[2]))
			case 4:
				s.Data = s.Data[:int(in[2])%len(s.Data)]
			case 5:
				if len(s.Proof) > 0 {
					s.Proof = s.Proof[:int(in[2])%len(s.Proof)]
				}
			}
			syms = append(syms, s)
			in = in[3:]
		}
		got, proof, err := enc.RecoverSliver(redstuff.Primary, 2, e.SymbolSize, syms, e.Hashes)
		if err == nil && !bytes.Equal(got.Data, e.Primary[2]) {
			t.Fatalf("recovered sliver differs")
		}
		if proof != nil {
			t.Fatalf("inconsistency proof for an honest blob")
		}
		p := &redstuff.InconsistencyProof{Target: redstuff.Primary, TargetIndex: 2, Symbols: syms}
		if err := enc.VerifyInconsistencyProof(p, e.SymbolSize, e.Hashes); err == nil {
			t.Fatalf("inconsistency proof accepted for an honest blob")
		}
	})
}
