package client

import (
	"errors"

	"github.com/floelabs/floe/internal/nodeclient"
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
	// ErrInvalidEpochs: a store for more epochs ahead than the control plane allows.
	ErrInvalidEpochs = errors.New("client: invalid number of epochs")
	// ErrInsufficientBalance: the wallet cannot pay for the store.
	ErrInsufficientBalance = errors.New("client: insufficient balance")
	// ErrEventsPruned: Events was asked for events the control plane no longer keeps; a
	// follower rebuilds its view from the current state and follows on from there.
	ErrEventsPruned = errors.New("client: events pruned")
	// ErrBadNode: a node served data or a signature that does not verify.
	ErrBadNode = nodeclient.ErrInvalidResponse
)

// NodeError is an error answer of a storage node (its AIP-193 envelope decoded), or a
// failure to reach it (Status 0) or to verify what it served (Err wraps ErrBadNode). Its
// fields: Node (name or address), Op ("GET /v1/blobs/.../metadata"), Status (the HTTP status,
// 0 for a transport error), Reason (the AIP-193 reason), Msg, Err.
type NodeError = nodeclient.Error
