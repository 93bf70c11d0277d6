package nodeclient

import (
	"encoding/json"
	"errors"
	"fmt"

	api "github.com/floelabs/floe/api/storagenode"
)

// ErrInvalidResponse: a node answered with data that does not verify (a sliver, metadata,
// symbol or signature that fails its check, a malformed or oversized body). Such a node is
// skipped and logged, never trusted.
var ErrInvalidResponse = errors.New("nodeclient: node served invalid data")

// Errors for the AIP-193 reasons callers act on; an *Error with that reason matches them with
// errors.Is.
var (
	ErrNotRegistered    = errors.New("nodeclient: blob not registered on the node")
	ErrMetadataNotFound = errors.New("nodeclient: metadata not found on the node")
	ErrSliverNotFound   = errors.New("nodeclient: sliver not found on the node")
	ErrMissingSlivers   = errors.New("nodeclient: node misses slivers it must hold")
	ErrInvalidBlob      = errors.New("nodeclient: blob marked invalid on the node")
	ErrBusy             = errors.New("nodeclient: node busy")
	ErrCacheSaturated   = errors.New("nodeclient: node's pending-upload buffer full")
	// ErrShardNotAssigned: the node does not own the shard of a sliver sent to it in its
	// current epoch (the sender's committee, or the node's, is of another epoch).
	ErrShardNotAssigned = errors.New("nodeclient: shard not assigned to the node")
)

// ErrOtherEpoch: a node signed a storage confirmation of the blob for another epoch than the
// one asked (the node, or the caller, has not followed an epoch change yet). The signature is
// the node's; the confirmation is of no use for the epoch asked.
var ErrOtherEpoch = errors.New("nodeclient: confirmation for another epoch")

var reasonErrors = map[string]error{
	api.ReasonNotRegistered:    ErrNotRegistered,
	api.ReasonMetadataNotFound: ErrMetadataNotFound,
	api.ReasonSliverNotFound:   ErrSliverNotFound,
	api.ReasonMissingSlivers:   ErrMissingSlivers,
	api.ReasonInvalidBlob:      ErrInvalidBlob,
	api.ReasonBusy:             ErrBusy,
	api.ReasonCacheSaturated:   ErrCacheSaturated,
	api.ReasonShardNotAssigned: ErrShardNotAssigned,
}

// Error is an error answer of a storage node (its AIP-193 envelope decoded), or a failure to
// reach it (Status 0) or to read its answer.
type Error struct {
	Node   string // the node's name or address
	Op     string // what was asked, e.g. "GET /v1/blobs/.../metadata"
	Status int    // the HTTP status (0 for a transport error)
	Reason string // the AIP-193 reason, if any
	Msg    string
	Err    error // the transport or verification error, if any
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("node %s: %s: %v", e.Node, e.Op, e.Err)
	}
	if e.Reason != "" {
		return fmt.Sprintf("node %s: %s: %d %s: %s", e.Node, e.Op, e.Status, e.Reason, e.Msg)
	}
	return fmt.Sprintf("node %s: %s: %d %s", e.Node, e.Op, e.Status, e.Msg)
}

// Unwrap returns the underlying error and the sentinel of the reason, if any.
func (e *Error) Unwrap() []error {
	var out []error
	if e.Err != nil {
		out = append(out, e.Err)
	}
	if r := reasonErrors[e.Reason]; r != nil {
		out = append(out, r)
	}
	return out
}

// Retryable reports whether the same request may succeed later: transport errors, 408, 429
// and 5xx except 501.
func (e *Error) Retryable() bool {
	switch {
	case e.Status == 0:
		return !errors.Is(e.Err, ErrInvalidResponse)
	case e.Status == 429, e.Status == 408:
		return true
	case e.Status >= 500 && e.Status != 501:
		return true
	}
	return false
}

// NotFound reports a 404 answer about the blob (with a reason; a missing route has none).
func (e *Error) NotFound() bool { return e.Status == 404 && e.Reason != "" }

// Unresponsive reports whether the node did not answer usefully (unreachable, timed out, cut
// off, a server error, invalid data) rather than refusing the request with a 4xx.
func (e *Error) Unresponsive() bool { return e.Status == 0 || e.Status >= 500 }

// IsRetryable reports whether err is an *Error that may succeed if retried.
func IsRetryable(err error) bool {
	var ne *Error
	return errors.As(err, &ne) && ne.Retryable()
}

// IsReason reports whether err is an *Error with the given AIP-193 reason.
func IsReason(err error, reason string) bool {
	var ne *Error
	return errors.As(err, &ne) && ne.Reason == reason
}

// Unresponsive reports whether err says the node did not answer usefully (see
// Error.Unresponsive); any error that is not an *Error counts.
func Unresponsive(err error) bool {
	var ne *Error
	if errors.As(err, &ne) {
		return ne.Unresponsive()
	}
	return err != nil
}

// decodeError builds the *Error of a non-2xx answer from its body (an AIP-193 envelope, or
// anything else, kept as the message).
func decodeError(node, op string, status int, body []byte) *Error {
	ne := &Error{Node: node, Op: op, Status: status, Msg: string(body)}
	var e api.Error
	if json.Unmarshal(body, &e) == nil && e.Error.Code != 0 {
		ne.Reason, ne.Msg = e.Error.Reason(), e.Error.Message
	}
	return ne
}

// invalid returns the *Error of an answer that does not verify.
func invalid(node, op string, status int, msg string, err error) *Error {
	if err == nil {
		err = ErrInvalidResponse
	} else {
		err = fmt.Errorf("%w: %w", ErrInvalidResponse, err)
	}
	return &Error{Node: node, Op: op, Status: status, Msg: msg, Err: err}
}
