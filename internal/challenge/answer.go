package challenge

import (
	"fmt"

	"golang.org/x/crypto/blake2b"

	"github.com/floelabs/floe/internal/bcs"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/merkle"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

// Status says how an answer entry answers its sample.
type Status uint8

// Entry statuses.
const (
	// Proven: the entry carries the symbol and its openings.
	Proven Status = 0
	// Excused: the blob is no longer challengeable (deleted, or marked invalid, since the
	// seed); the verifier checks that against the control plane.
	Excused Status = 1
	// Missing: the node admits it cannot produce the symbol.
	Missing Status = 2
)

// String names the status.
func (s Status) String() string {
	switch s {
	case Proven:
		return "proven"
	case Excused:
		return "excused"
	case Missing:
		return "missing"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Entry answers one sample. A Proven entry holds the symbol, its opening against the hash of
// the sliver it belongs to (the sliver's hash committing to the sliver's whole expansion), the
// sliver pair's two hashes and their opening against the metadata root, and the blob's
// unencoded length: with the root, the length derives the blob ID, so the entry is checked
// against the sample alone, without the blob's 64 KiB of metadata.
type Entry struct {
	Status      Status
	Length      uint64
	Root        merkle.Node
	Pair        redstuff.PairHashes
	PairProof   merkle.Proof
	Symbol      []byte
	SymbolProof merkle.Proof
}

// Answer is a node's answer to its samples of a challenge round, one entry per sample in
// order, signed by the node's BLS key over protocol.ChallengeAnswer (the digest of Body).
type Answer struct {
	Epoch     uint32
	Round     uint32
	Node      protocol.ObjectID
	Entries   []Entry
	Signature crypto.BLSSignature
}

// Limits of decoding.
const (
	// MaxEntries bounds the entries of an answer (and the samples of a round).
	MaxEntries = 4096
	// maxProofLen bounds a Merkle proof: n is a u16, so a tree has at most 16 levels.
	maxProofLen   = 16
	answerVersion = 1
)

func appendProof(e *bcs.Encoder, p merkle.Proof) {
	e.Len(len(p))
	for i := range p {
		e.Fixed(p[i][:])
	}
}

func readProof(d *bcs.Decoder) merkle.Proof {
	n := d.SeqLen(32)
	if n > maxProofLen {
		d.Fail(fmt.Errorf("%w: Merkle proof of %d nodes", ErrMalformed, n))
		return nil
	}
	p := make(merkle.Proof, n)
	for i := range p {
		d.FixedInto(p[i][:])
	}
	return p
}

// Body returns the encoding of the answer without its signature:
//
//	u8 version (1) || u32 epoch || u32 round || node ID || ULEB128 count || entries
//
// where an entry is u8 status and, for a Proven entry, u64 length || root || primary hash ||
// secondary hash || proof || vector<u8> symbol || proof, a proof being a ULEB128 count of
// 32-byte nodes (integers little-endian).
func (a *Answer) Body() ([]byte, error) {
	size := 1 + 8 + 32 + 5
	for i := range a.Entries {
		size += 1 + 8 + 96 + 10 + 32*(len(a.Entries[i].PairProof)+len(a.Entries[i].SymbolProof)) + len(a.Entries[i].Symbol)
	}
	e := bcs.NewEncoder(make([]byte, 0, size+crypto.BLSSignatureLen))
	e.U8(answerVersion)
	e.U32(a.Epoch)
	e.U32(a.Round)
	e.Fixed(a.Node[:])
	if len(a.Entries) > MaxEntries {
		return nil, fmt.Errorf("challenge: %d entries, at most %d", len(a.Entries), MaxEntries)
	}
	e.Len(len(a.Entries))
	for i := range a.Entries {
		en := &a.Entries[i]
		e.U8(uint8(en.Status))
		switch en.Status {
		case Proven:
			e.U64(en.Length)
			e.Fixed(en.Root[:])
			e.Fixed(en.Pair.Primary[:])
			e.Fixed(en.Pair.Secondary[:])
			appendProof(e, en.PairProof)
			e.ByteVec(en.Symbol)
			appendProof(e, en.SymbolProof)
		case Excused, Missing:
		default:
			return nil, fmt.Errorf("challenge: entry %d has status %d", i, en.Status)
		}
	}
	return e.Result()
}

// Digest returns Blake2b-256 of the body.
func (a *Answer) Digest() ([32]byte, error) {
	b, err := a.Body()
	if err != nil {
		return [32]byte{}, err
	}
	return blake2b.Sum256(b), nil
}

func (a *Answer) message(digest [32]byte) []byte {
	return protocol.ChallengeAnswer{Epoch: a.Epoch, Round: a.Round, Node: a.Node, Digest: digest}.Encode()
}

// Sign signs the answer with the node's key.
func (a *Answer) Sign(key *crypto.BLSSecretKey) error {
	d, err := a.Digest()
	if err != nil {
		return err
	}
	a.Signature = key.Sign(a.message(d))
	return nil
}

// VerifySignature checks the answer's signature against the node's key.
func (a *Answer) VerifySignature(pk crypto.BLSPublicKey) error {
	d, err := a.Digest()
	if err != nil {
		return err
	}
	if err := crypto.VerifyBLS(pk, a.message(d), a.Signature); err != nil {
		return fmt.Errorf("challenge: answer signature: %w", err)
	}
	return nil
}

// Marshal returns Body || signature (96 bytes).
func (a *Answer) Marshal() ([]byte, error) {
	b, err := a.Body()
	if err != nil {
		return nil, err
	}
	return append(b, a.Signature[:]...), nil
}

// Unmarshal decodes Marshal's encoding (untrusted bytes). It checks the structure only: the
// signature and the proofs are checked by VerifySignature and Verify.
func Unmarshal(b []byte) (*Answer, error) {
	if len(b) < crypto.BLSSignatureLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	body, sig := b[:len(b)-crypto.BLSSignatureLen], b[len(b)-crypto.BLSSignatureLen:]
	d := bcs.NewDecoder(body)
	a := &Answer{}
	if v := d.U8(); v != answerVersion && d.Err() == nil {
		return nil, fmt.Errorf("%w: version %d", ErrMalformed, v)
	}
	a.Epoch = d.U32()
	a.Round = d.U32()
	d.FixedInto(a.Node[:])
	n := d.SeqLen(1)
	if n > MaxEntries {
		return nil, fmt.Errorf("%w: %d entries, at most %d", ErrMalformed, n, MaxEntries)
	}
	a.Entries = make([]Entry, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		en := &a.Entries[i]
		en.Status = Status(d.U8())
		switch en.Status {
		case Proven:
			en.Length = d.U64()
			d.FixedInto(en.Root[:])
			d.FixedInto(en.Pair.Primary[:])
			d.FixedInto(en.Pair.Secondary[:])
			en.PairProof = readProof(d)
			sym := d.ByteVec()
			if len(sym) > redstuff.MaxSymbolSize {
				d.Fail(fmt.Errorf("%w: symbol of %d bytes", ErrMalformed, len(sym)))
			}
			en.Symbol = append([]byte(nil), sym...)
			en.SymbolProof = readProof(d)
		case Excused, Missing:
		default:
			d.Fail(fmt.Errorf("%w: entry status %d", ErrMalformed, en.Status))
		}
	}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	copy(a.Signature[:], sig)
	return a, nil
}

// MaxAnswerSize bounds the encoding of an answer to count samples, for a request body limit.
func MaxAnswerSize(count int) int64 {
	return int64(1+8+32+5+crypto.BLSSignatureLen) +
		int64(count)*int64(1+8+96+2*(1+32*maxProofLen)+5+redstuff.MaxSymbolSize)
}
