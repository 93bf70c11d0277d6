package storagenode

import (
	"bytes"
	"errors"
	"io"
	"testing"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/storagenode/engine"
	"github.com/floelabs/floe/redstuff"
)

// fuzzSeeds returns a metadata body and a sliver body of a small blob.
func fuzzSeeds(f *testing.F) (*redstuff.Encoder, *blob.MetadataWithID, []byte, []byte) {
	enc, err := redstuff.New(testShards)
	if err != nil {
		f.Fatal(err)
	}
	e := testBlob(f, enc, 300, 9)
	pr, _ := e.Pair(1)
	return enc, blob.NewMetadata(&e.Commitment), metadataBody(f, e), sliverBody(f, pr)
}

// FuzzMetadataBody: the metadata PUT decoder never panics, and whatever it accepts verifies
// and re-encodes to the same bytes.
func FuzzMetadataBody(f *testing.F) {
	enc, md, mb, _ := fuzzSeeds(f)
	f.Add(mb)
	f.Add(mb[:len(mb)/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := engine.DecodeMetadata(md.ID, body, enc.Params())
		if err != nil {
			if !errors.Is(err, engine.ErrMalformedBody) && !errors.Is(err, engine.ErrInvalidMetadata) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		re, err := got.Metadata.MarshalBCS()
		if err != nil || !bytes.Equal(re, body) {
			t.Fatalf("accepted metadata does not re-encode to the body: %v", err)
		}
	})
}

// FuzzSliverBody: the sliver PUT checks never panic and accept only slivers that verify.
func FuzzSliverBody(f *testing.F) {
	enc, md, _, sb := fuzzSeeds(f)
	f.Add(sb, uint8(1), false)
	f.Add(sb[:len(sb)-1], uint8(1), false)
	f.Add([]byte{0, 0, 0}, uint8(0), true)
	f.Fuzz(func(t *testing.T, body []byte, pair uint8, secondary bool) {
		a := redstuff.Primary
		if secondary {
			a = redstuff.Secondary
		}
		sl, err := blob.UnmarshalSliverData(body, a)
		if err != nil {
			return
		}
		p := enc.Params()
		if sl.Index >= testShards || p.PairIndex(a, sl.Index) != int(pair)%testShards {
			return
		}
		if err := engine.VerifySliver(enc, md, sl); err == nil {
			re, err := blob.MarshalSliverData(sl)
			if err != nil || !bytes.Equal(re, body) {
				t.Fatalf("verified sliver does not re-encode to the body: %v", err)
			}
		} else if !errors.Is(err, engine.ErrInvalidSliver) {
			t.Fatalf("unexpected error class: %v", err)
		}
	})
}

// FuzzSliverBatch: the batch framing decoder never panics, never returns a frame larger than
// its limit, and round-trips what it accepts.
func FuzzSliverBatch(f *testing.F) {
	_, _, mb, sb := fuzzSeeds(f)
	var buf bytes.Buffer
	bw, _ := api.NewBatchWriter(&buf)
	bw.WriteMetadata(mb)
	bw.WriteSliver(1, false, sb)
	bw.WriteSliver(8, true, sb)
	bw.Close()
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:buf.Len()-3])
	f.Add([]byte("FLSB\x01\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, body []byte) {
		const limit = 4096
		br := api.NewBatchReader(bytes.NewReader(body), limit)
		var frames []api.Frame
		for {
			fr, err := br.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if !errors.Is(err, api.ErrBatchMalformed) && !errors.Is(err, api.ErrBatchTruncated) && !errors.Is(err, api.ErrFrameTooLarge) {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if len(fr.Payload) > limit {
				t.Fatal("frame over the limit")
			}
			frames = append(frames, fr)
		}
		var out bytes.Buffer
		w, _ := api.NewBatchWriter(&out)
		for i, fr := range frames {
			var err error
			switch fr.Kind {
			case api.FrameMetadata:
				if i != 0 {
					t.Fatal("metadata frame accepted after the first")
				}
				err = w.WriteMetadata(fr.Payload)
			default:
				err = w.WriteSliver(fr.Pair, fr.Kind == api.FrameSecondary, fr.Payload)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		w.Close()
		if !bytes.Equal(out.Bytes(), body) {
			t.Fatal("accepted batch does not re-encode to the body")
		}
	})
}

// FuzzInconsistencyProofBody: the inconsistency-proof decoder never panics, fails only with
// engine.ErrMalformedBody or engine.ErrInvalidProof, and what it accepts re-encodes to the body (so the
// node signs only for a proof that verifies, exactly as it was sent).
func FuzzInconsistencyProofBody(f *testing.F) {
	enc, err := redstuff.New(testShards)
	if err != nil {
		f.Fatal(err)
	}
	const victim = 2
	forged := forgedBlob(f, enc, 700, 5, victim)
	md := blob.NewMetadata(&forged.Commitment)
	body, err := blob.MarshalInconsistencyProof(forgedProof(f, enc, forged, victim))
	if err != nil {
		f.Fatal(err)
	}
	if _, err := engine.DecodeInconsistencyProof(enc, md, redstuff.Primary, body); err != nil {
		f.Fatalf("valid proof rejected: %v", err)
	}
	f.Add(body, false)
	f.Add(body[:len(body)-7], false)
	f.Add(body, true)
	f.Add([]byte{victim, 0, 0}, false)
	f.Fuzz(func(t *testing.T, body []byte, secondary bool) {
		a := redstuff.Primary
		if secondary {
			a = redstuff.Secondary
		}
		proof, err := engine.DecodeInconsistencyProof(enc, md, a, body)
		if err != nil {
			if !errors.Is(err, engine.ErrMalformedBody) && !errors.Is(err, engine.ErrInvalidProof) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		re, err := blob.MarshalInconsistencyProof(proof)
		if err != nil || !bytes.Equal(re, body) {
			t.Fatalf("accepted proof does not re-encode to the body: %v", err)
		}
	})
}
