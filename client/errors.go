package client

import (
	"errors"
	"fmt"

	api "github.com/floelabs/floe/api/storagenode"
)

// Errors of the client. Errors returned by the Client wrap one of them (or an error of the
// control plane) with %w.
var (
	// ErrBlobNotFound: the blob does not exist, is not certified, was deleted or expired.
	ErrBlobNotFound = errors.New("client: blob not found")
	// ErrBlobInvalid: the blob ID was marked invalid (inconsistently encoded).
	ErrBlobInvalid = errors.New("client: blob marked invalid")
	// ErrNotEnoughSlivers: fewer than K_p verified primary slivers could be fetched.
	ErrNotEnoughSlivers = errors.New("client: not enough slivers to decode the blob")
	// ErrNoMetadata: no node served metadata that verifies for the blob ID.
	ErrNoMetadata = errors.New("client: no valid metadata from the storage nodes")
	// ErrNotEnoughConfirmations: the verified confirmations cover fewer than n-f shards.
	ErrNotEnoughConfirmations = errors.New("client: not enough storage confirmations")
	// ErrBlobTooLarge: the blob exceeds the largest size the encoding allows.
	ErrBlobTooLarge = errors.New("client: blob too large")
	// ErrNoWallet: the operation needs a wallet (Config.Wallet) and the client has none.
	ErrNoWallet = errors.New("client: no wallet configured")
	// ErrInvalidRange: a byte range outside the blob.
	ErrInvalidRange = errors.New("client: invalid byte range")
	// ErrNoCommittee: the control plane has no committee for the current epoch.
	ErrNoCommittee = errors.New("client: no committee")
	// ErrInvalidConfig: a configuration the client cannot use.
	ErrInvalidConfig = errors.New("client: invalid configuration")
	// ErrBadNode: a node served data or a signature that does not verify.
	ErrBadNode = errors.New("client: node served invalid data")
)

// NodeError is an error response of a storage node, or a failure to reach it (Status 0).
type NodeError struct {
	Node   string // the node's name or address
	Op     string // what was asked, e.g. "GET /v1/blobs/.../metadata"
	Status int    // the HTTP status (0 for a transport error)
	Reason string // the AIP-193 reason, if any
	Msg    string
	Err    error // the transport error, if any
}

func (e *NodeError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("node %s: %s: %v", e.Node, e.Op, e.Err)
	}
	if e.Reason != "" {
		return fmt.Sprintf("node %s: %s: %d %s: %s", e.Node, e.Op, e.Status, e.Reason, e.Msg)
	}
	return fmt.Sprintf("node %s: %s: %d %s", e.Node, e.Op, e.Status, e.Msg)
}

func (e *NodeError) Unwrap() error { return e.Err }

// retryable reports whether the same request may succeed later: transport errors, 429 and 5xx
// except 501.
func (e *NodeError) retryable() bool {
	switch {
	case e.Status == 0:
		return true
	case e.Status == 429, e.Status == 408:
		return true
	case e.Status >= 500 && e.Status != 501:
		return true
	}
	return false
}

// notFound reports a 404 answer about the blob (not a missing route).
func (e *NodeError) notFound() bool {
	return e.Status == 404 && e.Reason != ""
}

// isReason reports whether err is a NodeError with the given reason.
func isReason(err error, reason string) bool {
	var ne *NodeError
	return errors.As(err, &ne) && ne.Reason == reason
}

func isRetryable(err error) bool {
	var ne *NodeError
	return errors.As(err, &ne) && ne.retryable()
}

var _ = api.ReasonMissingSlivers
