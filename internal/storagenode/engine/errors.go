package engine

import (
	"errors"
)

// Errors of the engine's requests. Every error its parts return for a request wraps one of them
// with %w (or is internal); the HTTP layer maps them to status codes and AIP-193 reasons, in
// one table (storagenode/errors.go).
var (
	ErrNotRegistered       = errors.New("blob is not registered")
	ErrSliverIndexMismatch = errors.New("sliver index does not match the pair index")
	ErrMetadataNotFound    = errors.New("metadata not found")
	ErrMetadataRequired    = errors.New("metadata must be stored before slivers")
	ErrInvalidSliver       = errors.New("invalid sliver")
	ErrInvalidMetadata     = errors.New("invalid metadata")
	ErrInvalidBlob         = errors.New("blob was marked invalid")
	ErrMissingSlivers      = errors.New("node does not hold every sliver it must store")
	ErrSliverNotFound      = errors.New("sliver not found")
	ErrShardNotAssigned    = errors.New("shard is not assigned to this node")
	ErrBadBlobID           = errors.New("invalid blob ID")
	ErrBadPairIndex        = errors.New("invalid sliver pair index")
	ErrBadSliverType       = errors.New("invalid sliver type")
	ErrBadObjectID         = errors.New("invalid object ID")
	ErrBadQuery            = errors.New("invalid query")
	ErrMalformedBody       = errors.New("malformed request body")
	ErrTruncatedBody       = errors.New("truncated request body")
	ErrBodyTooLarge        = errors.New("request body too large")
	ErrCacheSaturated      = errors.New("pending upload buffer is full")
	ErrUnsupportedMedia    = errors.New("unsupported content type")
	ErrNotInCommittee      = errors.New("node has no committee view yet")
	ErrBusy                = errors.New("node is busy")
)

// requestError carries facts about an error (see Details).
type requestError struct {
	err  error
	meta map[string]string
}

func (e *requestError) Error() string { return e.err.Error() }
func (e *requestError) Unwrap() error { return e.err }

func withMeta(err error, kv ...string) error {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &requestError{err: err, meta: m}
}

// WithDetails attaches facts (key, value pairs) to err for the ErrorInfo of its answer.
func WithDetails(err error, kv ...string) error { return withMeta(err, kv...) }

// Details returns the metadata attached to err with withMeta (nil if none): facts for the
// ErrorInfo of an error response.
func Details(err error) map[string]string {
	var re *requestError
	if errors.As(err, &re) {
		return re.meta
	}
	return nil
}

// ErrInvalidProof is returned for an inconsistency proof that does not prove anything.
var ErrInvalidProof = errors.New("invalid inconsistency proof")
