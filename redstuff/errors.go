package redstuff

import "errors"

// Errors of encoding, decoding and verification.
var (
	ErrNotEnoughSlivers = errors.New("redstuff: not enough distinct valid slivers to decode")
	ErrNotEnoughSymbols = errors.New("redstuff: not enough distinct valid recovery symbols")
	ErrInvalidSliver    = errors.New("redstuff: invalid sliver")
	ErrInvalidSymbol    = errors.New("redstuff: invalid recovery symbol")
	ErrInconsistent     = errors.New("redstuff: the blob is inconsistently encoded")
	ErrInvalidProof     = errors.New("redstuff: invalid inconsistency proof")
	ErrHashCount        = errors.New("redstuff: wrong number of pair hashes")
	ErrSymbolSize       = errors.New("redstuff: invalid symbol size")
	// ErrWorkingSetTooLarge is returned when encoding would need more memory than the
	// Encoder's limit (see WithMemoryLimit).
	ErrWorkingSetTooLarge = errors.New("redstuff: encoding needs too much working memory")
	// ErrBlobRead is returned when CommitReaderAt cannot read the blob (an error or a short
	// read: the file shrank).
	ErrBlobRead = errors.New("redstuff: reading the blob failed")
)
