package challenge

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"golang.org/x/crypto/blake2b"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

func blobIDs(n int) []blob.ID {
	out := make([]blob.ID, n)
	for i := range out {
		out[i] = blob.ID(blake2b.Sum256([]byte{byte(i), byte(i >> 8)}))
	}
	return out
}

func TestDrawIsDeterministicAndInRange(t *testing.T) {
	blobs, shards := blobIDs(17), []uint16{3, 9, 12}
	a := Draw([32]byte{1}, [32]byte{2}, 200, blobs, shards, 20)
	b := Draw([32]byte{1}, [32]byte{2}, 200, blobs, shards, 20)
	if len(a) != 200 {
		t.Fatalf("%d samples", len(a))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("sample %d differs between two draws", i)
		}
		if a[i].Symbol >= 20 || (a[i].Shard != 3 && a[i].Shard != 9 && a[i].Shard != 12) || a[i].Axis > 1 {
			t.Fatalf("sample %d out of range: %+v", i, a[i])
		}
	}
	other := Draw([32]byte{1}, [32]byte{3}, 200, blobs, shards, 20)
	reseed := Draw([32]byte{9}, [32]byte{2}, 200, blobs, shards, 20)
	same, sameSeed := 0, 0
	for i := range a {
		if a[i] == other[i] {
			same++
		}
		if a[i] == reseed[i] {
			sameSeed++
		}
	}
	if same > 5 || sameSeed > 5 {
		t.Fatalf("another node or seed draws %d and %d of the same samples", same, sameSeed)
	}
	if Draw([32]byte{1}, [32]byte{2}, 5, nil, shards, 20) != nil || Draw([32]byte{1}, [32]byte{2}, 5, blobs, nil, 20) != nil {
		t.Fatal("samples drawn from nothing")
	}
}

// TestDrawIsUniform: every (blob, shard, axis) sliver is drawn about equally often (chi-square
// over 2*17*3 = 102 cells, 100 000 samples).
func TestDrawIsUniform(t *testing.T) {
	blobs, shards := blobIDs(17), []uint16{0, 5, 6}
	index := map[blob.ID]int{}
	for i, b := range blobs {
		index[b] = i
	}
	cells := 2 * len(blobs) * len(shards)
	counts := make([]int, cells)
	symbols := make([]int, 10)
	total := 0
	for seed := byte(0); seed < 100; seed++ {
		for _, s := range Draw([32]byte{seed}, [32]byte{7}, 1000, blobs, shards, 10) {
			si := map[uint16]int{0: 0, 5: 1, 6: 2}[s.Shard]
			counts[(index[s.BlobID]*len(shards)+si)*2+int(s.Axis)]++
			symbols[s.Symbol]++
			total++
		}
	}
	chi := 0.0
	exp := float64(total) / float64(cells)
	for _, c := range counts {
		chi += (float64(c) - exp) * (float64(c) - exp) / exp
	}
	// 101 degrees of freedom: the 99.99th percentile is about 160.
	if chi > 160 {
		t.Fatalf("chi-square %.1f over %d cells: the draw is not uniform", chi, cells)
	}
	for i, c := range symbols {
		if math.Abs(float64(c)-float64(total)/10) > 5*math.Sqrt(float64(total)/10) {
			t.Fatalf("symbol %d drawn %d times of %d", i, c, total)
		}
	}
}

// TestDetectionArithmetic simulates a node that dropped exactly 10% of its slivers and checks
// that the fraction of rounds it escapes (no sample hits a dropped sliver) matches (1-p)^m,
// the formula the package doc applies to m = 100.
func TestDetectionArithmetic(t *testing.T) {
	blobs, shards := blobIDs(100), []uint16{1, 4, 8, 9, 15}
	type sliver struct {
		b     blob.ID
		shard uint16
		axis  redstuff.Axis
	}
	var all []sliver
	for _, b := range blobs {
		for _, s := range shards {
			all = append(all, sliver{b, s, redstuff.Primary}, sliver{b, s, redstuff.Secondary})
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	dropped := map[sliver]bool{}
	for _, s := range all[:len(all)/10] {
		dropped[s] = true
	}
	const rounds = 20000
	for _, m := range []int{5, 10, 20} {
		escaped := 0
		for k := 0; k < rounds; k++ {
			var seed [32]byte
			seed[0], seed[1], seed[2] = byte(k), byte(k>>8), byte(m)
			hit := false
			for _, s := range Draw(seed, [32]byte{0xee}, m, blobs, shards, 1000) {
				if dropped[sliver{s.BlobID, s.Shard, s.Axis}] {
					hit = true
					break
				}
			}
			if !hit {
				escaped++
			}
		}
		want := math.Pow(0.9, float64(m))
		got := float64(escaped) / rounds
		sigma := math.Sqrt(want * (1 - want) / rounds)
		if math.Abs(got-want) > 4*sigma {
			t.Fatalf("m = %d: escaped %.4f of rounds, (1-p)^m = %.4f (4 sigma = %.4f)", m, got, want, 4*sigma)
		}
		t.Logf("m = %d: escaped %.4f of %d rounds, (1-p)^m = %.4f", m, got, rounds, want)
	}
	// The default: caught within two epochs with probability > 0.999.
	if esc := math.Pow(0.9, 2*100); 1-esc <= 0.999 || esc > 1e-9 {
		t.Fatalf("two epochs of 100 samples: escape %g", esc)
	}
	if esc := math.Pow(0.9, 2*33); 1-esc <= 0.999 || math.Pow(0.9, 2*32) < 1e-3 {
		t.Fatal("33 is not the least sample size for 0.999 within two epochs")
	}
}

func TestPackRoundTrip(t *testing.T) {
	s := Draw([32]byte{4}, [32]byte{5}, 50, blobIDs(9), []uint16{1, 65000}, 65535)
	back, err := Unpack(Pack(s))
	if err != nil {
		t.Fatal(err)
	}
	for i := range s {
		if s[i] != back[i] {
			t.Fatalf("sample %d: %+v, unpacked %+v", i, s[i], back[i])
		}
	}
	if _, err := Unpack(Pack(s)[1:]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated: %v", err)
	}
}

// testBlob encodes data on n shards.
func testBlob(t testing.TB, n, size int) (*redstuff.Encoder, *redstuff.Encoding, *blob.MetadataWithID) {
	t.Helper()
	enc, err := redstuff.New(n)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	e, err := enc.Encode(data)
	if err != nil {
		t.Fatal(err)
	}
	return enc, e, blob.NewMetadata(&e.Commitment)
}

// sliverFor returns the sliver that sample s lies in.
func sliverFor(e *redstuff.Encoding, s Sample, n int) redstuff.Sliver {
	p, sec := e.Pair(s.Pair(n))
	if s.Axis == redstuff.Primary {
		return p
	}
	return sec
}

func TestProveAndVerifyEverySymbol(t *testing.T) {
	const n = 10
	enc, e, md := testBlob(t, n, 5000)
	bp, err := NewBlobProver(enc, md)
	if err != nil {
		t.Fatal(err)
	}
	params := enc.Params()
	for shard := 0; shard < n; shard++ {
		for _, axis := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
			var samples []Sample
			for sym := 0; sym < n; sym++ {
				samples = append(samples, Sample{BlobID: md.ID, Shard: uint16(shard), Axis: axis, Symbol: uint16(sym)})
			}
			entries, err := bp.Prove(sliverFor(e, samples[0], n), samples)
			if err != nil {
				t.Fatalf("shard %d %s: %v", shard, axis, err)
			}
			for i := range entries {
				if err := Verify(params, samples[i], &entries[i]); err != nil {
					t.Fatalf("shard %d %s symbol %d: %v", shard, axis, i, err)
				}
			}
			// The same entry does not answer another symbol, shard or axis.
			wrong := []Sample{samples[1], {BlobID: md.ID, Shard: uint16((shard + 1) % n), Axis: axis}, {BlobID: md.ID, Shard: uint16(shard), Axis: axis.Other()}}
			for _, w := range wrong {
				if err := Verify(params, w, &entries[0]); !errors.Is(err, ErrInvalidProof) {
					t.Fatalf("entry of %+v verified for %+v", samples[0], w)
				}
			}
		}
	}
}

func TestVerifyRejectsTampering(t *testing.T) {
	const n = 10
	enc, e, md := testBlob(t, n, 3000)
	bp, _ := NewBlobProver(enc, md)
	s := Sample{BlobID: md.ID, Shard: 4, Axis: redstuff.Secondary, Symbol: 8}
	entries, err := bp.Prove(sliverFor(e, s, n), []Sample{s})
	if err != nil {
		t.Fatal(err)
	}
	good := entries[0]
	tamper := map[string]func(e *Entry){
		"symbol byte":   func(e *Entry) { e.Symbol = append([]byte(nil), e.Symbol...); e.Symbol[0] ^= 1 },
		"symbol length": func(e *Entry) { e.Symbol = append(append([]byte(nil), e.Symbol...), 0, 0) },
		"length":        func(e *Entry) { e.Length++ },
		"root":          func(e *Entry) { e.Root[3] ^= 1 },
		"pair hash":     func(e *Entry) { e.Pair.Primary[0] ^= 1 },
		"pair proof":    func(e *Entry) { e.PairProof = append(e.PairProof[:0:0], e.PairProof...); e.PairProof[0][0] ^= 1 },
		"symbol proof":  func(e *Entry) { e.SymbolProof = e.SymbolProof[:len(e.SymbolProof)-1] },
		"status":        func(e *Entry) { e.Status = Missing },
	}
	for name, f := range tamper {
		bad := good
		f(&bad)
		if err := Verify(enc.Params(), s, &bad); !errors.Is(err, ErrInvalidProof) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A corrupt stored sliver cannot be proven: the prover refuses rather than send it.
	sl := sliverFor(e, s, n)
	sl.Data = append([]byte(nil), sl.Data...)
	sl.Data[0] ^= 0xff
	if _, err := bp.Prove(sl, []Sample{s}); err == nil {
		t.Fatal("a corrupt sliver was proven")
	}
}

func TestAnswerRoundTripAndSignature(t *testing.T) {
	const n = 10
	enc, e, md := testBlob(t, n, 777)
	bp, _ := NewBlobProver(enc, md)
	samples := Draw([32]byte{1}, [32]byte{2}, 6, []blob.ID{md.ID}, []uint16{2}, n)
	a := &Answer{Epoch: 3, Round: 1, Node: protocol.ObjectID{2}}
	for _, s := range samples {
		en, err := bp.Prove(sliverFor(e, s, n), []Sample{s})
		if err != nil {
			t.Fatal(err)
		}
		a.Entries = append(a.Entries, en...)
	}
	a.Entries = append(a.Entries, Entry{Status: Excused}, Entry{Status: Missing})
	key, err := crypto.BLSKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Sign(key); err != nil {
		t.Fatal(err)
	}
	wire, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Unmarshal(wire)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.VerifySignature(key.PublicKey()); err != nil {
		t.Fatal(err)
	}
	again, _ := back.Marshal()
	if !bytes.Equal(again, wire) {
		t.Fatal("answer does not re-encode to the same bytes")
	}
	for i, s := range samples {
		if err := Verify(enc.Params(), s, &back.Entries[i]); err != nil {
			t.Fatalf("entry %d after the round trip: %v", i, err)
		}
	}
	back.Entries[0].Symbol[0] ^= 1
	if err := back.VerifySignature(key.PublicKey()); err == nil {
		t.Fatal("signature verified over a changed answer")
	}
	if int64(len(wire)) > MaxAnswerSize(len(a.Entries)) {
		t.Fatalf("answer of %d bytes above MaxAnswerSize %d", len(wire), MaxAnswerSize(len(a.Entries)))
	}
	for cut := 0; cut < len(wire); cut++ {
		if _, err := Unmarshal(wire[:cut]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("a %d-byte prefix of a %d-byte answer: %v", cut, len(wire), err)
		}
	}
}

func FuzzUnmarshalAnswer(f *testing.F) {
	a := &Answer{Epoch: 1, Round: 2, Node: protocol.ObjectID{3}, Entries: []Entry{
		{Status: Proven, Length: 9, Symbol: []byte{1, 2}, PairProof: nil, SymbolProof: make([]redstuff.Node, 2)},
		{Status: Excused}, {Status: Missing}}}
	wire, err := a.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(wire)
	f.Add([]byte{})
	f.Add(make([]byte, 200))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Unmarshal(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		back, err := a.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back, b) {
			t.Fatalf("decoded answer re-encodes differently")
		}
	})
}

func FuzzUnpack(f *testing.F) {
	f.Add(Pack(Draw([32]byte{1}, [32]byte{2}, 3, blobIDs(2), []uint16{1}, 10)))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Unpack(b)
		if err != nil {
			return
		}
		if !bytes.Equal(Pack(s), b) {
			t.Fatal("unpacked samples pack differently")
		}
	})
}

// TestVerifierSample checks the verifier PRF (deterministic, in range, uniform enough, a
// different sample per node and seed) and the threshold's arithmetic: with members holding
// just under a third of the shards corrupt, they hold more than half of the 200 slots in
// about P[Binomial(200, 1/3) > 100] = 4.1e-7 of the rounds; simulated over 5,000 rounds with
// a 45% coalition (whose tail is large enough to count), the rate matches the binomial tail.
func TestVerifierSample(t *testing.T) {
	const n, slots = 1000, DefaultVerifierSlots
	a := Verifiers([32]byte{1}, [32]byte{2}, slots, n)
	if b := Verifiers([32]byte{1}, [32]byte{2}, slots, n); !slices.Equal(a, b) || len(a) != slots {
		t.Fatal("Verifiers is not deterministic")
	}
	if slices.Equal(a, Verifiers([32]byte{1}, [32]byte{3}, slots, n)) || slices.Equal(a, Verifiers([32]byte{9}, [32]byte{2}, slots, n)) {
		t.Fatal("the same verifiers for another node or seed")
	}
	if PassSlots(slots) != 101 || PassSlots(7) != 4 {
		t.Fatalf("PassSlots(200) = %d", PassSlots(slots))
	}
	// A coalition of the first 450 shards (45%): P[Binomial(200, 0.45) >= 101] = 0.0695.
	const rounds = 5_000
	wins := 0
	for r := range rounds {
		var seed [32]byte
		binary.LittleEndian.PutUint32(seed[:], uint32(r))
		bad := 0
		for _, s := range Verifiers(seed, [32]byte{7}, slots, n) {
			if int(s) >= n {
				t.Fatalf("shard %d out of range", s)
			}
			if s < 450 {
				bad++
			}
		}
		if bad >= PassSlots(slots) {
			wins++
		}
	}
	got, want := float64(wins)/rounds, binomialTail(slots, 0.45, PassSlots(slots))
	if math.Abs(got-want) > 4*math.Sqrt(want*(1-want)/rounds) {
		t.Fatalf("a 45%% coalition held a majority of the slots in %.4f of the rounds, binomial tail %.4f", got, want)
	}
	if p := binomialTail(slots, 1.0/3, PassSlots(slots)); p > 5e-7 || p < 3e-7 {
		t.Fatalf("P[Bin(200, 1/3) >= 101] = %.3g, the README says 4.1e-7", p)
	}
	// Members of one shard each: a prover contacts the holders of about half the slots (87 members).
	if c := ExpectedContacts(slots, n, func(s uint16) int { return int(s) }, 100); c < 80 || c > 100 {
		t.Fatalf("expected contacts %.1f, want about 87 (of 181 distinct holders)", c)
	}
}

// binomialTail returns P[Binomial(k, p) >= t].
func binomialTail(k int, p float64, t int) float64 {
	sum := 0.0
	for i := t; i <= k; i++ {
		lc, _ := math.Lgamma(float64(k + 1))
		li, _ := math.Lgamma(float64(i + 1))
		lk, _ := math.Lgamma(float64(k - i + 1))
		sum += math.Exp(lc - li - lk + float64(i)*math.Log(p) + float64(k-i)*math.Log(1-p))
	}
	return sum
}
