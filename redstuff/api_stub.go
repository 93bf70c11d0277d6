package redstuff

import "errors"

// TEMPORARY: signatures agreed for the blob package; implementations land in encoder.go.

var errTODO = errors.New("redstuff: not implemented yet")

// Errors of encoding, decoding and verification.
var (
	ErrNotEnoughSlivers  = errors.New("redstuff: not enough distinct valid slivers to decode")
	ErrNotEnoughSymbols  = errors.New("redstuff: not enough distinct valid recovery symbols")
	ErrInvalidSliver     = errors.New("redstuff: invalid sliver")
	ErrInvalidSymbol     = errors.New("redstuff: invalid recovery symbol")
	ErrInconsistent      = errors.New("redstuff: the blob is inconsistently encoded")
	ErrInvalidProof      = errors.New("redstuff: invalid inconsistency proof")
	ErrMismatchedHashLen = errors.New("redstuff: wrong number of pair hashes")
)

// Encoder encodes, decodes and recovers blobs for one number of shards. It is safe for
// concurrent use.
type Encoder struct {
	p       Params
	workers int
}

// Option configures an Encoder.
type Option func(*Encoder)

// WithWorkers sets how many goroutines one call may use (default: GOMAXPROCS).
func WithWorkers(n int) Option { return func(e *Encoder) { e.workers = n } }

// New returns an Encoder for n shards.
func New(nShards int, opts ...Option) (*Encoder, error) {
	p, err := NewParams(nShards)
	if err != nil {
		return nil, err
	}
	e := &Encoder{p: p}
	for _, o := range opts {
		o(e)
	}
	return e, nil
}

// Params returns the encoder's parameters.
func (e *Encoder) Params() Params { return e.p }

// Encode encodes data into all 2n slivers and their commitment.
func (e *Encoder) Encode(data []byte) (*Encoding, error) { return nil, errTODO }

// Commit computes only the commitment (pair hashes and root) of data, with far less memory
// than Encode.
func (e *Encoder) Commit(data []byte) (*Commitment, error) { return nil, errTODO }

// Decode rebuilds a blob of the given length from slivers of one axis (at least
// SymbolCount(other axis) distinct ones). If hashes is not nil, the default consistency
// check of spec §2.9 runs against it.
func (e *Encoder) Decode(length uint64, slivers []Sliver, hashes []PairHashes) ([]byte, error) {
	return nil, errTODO
}

// SliverHash returns the Merkle root over the expansion of s.
func (e *Encoder) SliverHash(s Sliver) (Node, error) { return Node{}, errTODO }

// VerifySliver checks s (index, length, symbol size, hash) against the pair hashes.
func (e *Encoder) VerifySliver(s Sliver, symbolSize int, hashes []PairHashes) error { return errTODO }

// RecoverySymbols returns, for each target index, the recovery symbol that source (a verified
// sliver) contributes to rebuilding sliver target of the other axis.
func (e *Encoder) RecoverySymbols(source Sliver, targets []int) ([]RecoverySymbol, error) {
	return nil, errTODO
}

// VerifyRecoverySymbol checks a recovery symbol's indices, size and Merkle proof.
func (e *Encoder) VerifyRecoverySymbol(sym RecoverySymbol, symbolSize int, hashes []PairHashes) error {
	return errTODO
}

// RecoverSliver rebuilds sliver index of axis target from recovery symbols (verified here;
// invalid ones are skipped). If the rebuilt sliver does not match its hash it returns an
// InconsistencyProof and ErrInconsistent.
func (e *Encoder) RecoverSliver(target Axis, index, symbolSize int, symbols []RecoverySymbol, hashes []PairHashes) (Sliver, *InconsistencyProof, error) {
	return Sliver{}, nil, errTODO
}

// VerifyInconsistencyProof checks an inconsistency proof against the pair hashes alone.
func (e *Encoder) VerifyInconsistencyProof(proof *InconsistencyProof, symbolSize int, hashes []PairHashes) error {
	return errTODO
}
