package engine

import (
	"context"
	"errors"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/crypto"
)

// ControlPlane is what a storage node needs from the control plane. Events long-polls: it
// waits (up to ctx's deadline) for events with sequence numbers from from on and returns an
// empty slice when the wait ends without any.
type ControlPlane interface {
	// Events returns up to max events from sequence number from on, waiting a while for them
	// if there are none yet; an error wrapping ErrEventsPruned if they were pruned.
	Events(ctx context.Context, from uint64, max int) ([]cpapi.Event, error)
	// ListState calls f with each page of the listing of the state's blob objects and invalid
	// blob IDs (cpclient.ListState) and returns the event sequence number of the first page.
	ListState(ctx context.Context, f func(*cpapi.StatePage) error) (uint64, error)
	// Committee returns the committee of epoch, or an error wrapping ErrNoCommittee.
	Committee(ctx context.Context, epoch uint32) (*cpapi.Committee, error)
	Info(ctx context.Context) (cpapi.Info, error)
	// BlobObject returns a blob object, or an error wrapping ErrNoBlobObject.
	BlobObject(ctx context.Context, id cpapi.ObjectID) (cpapi.Blob, error)
	// Submit submits a signed transaction and waits for its outcome; a transaction that failed
	// returns an error.
	Submit(ctx context.Context, rawTx []byte) (*cpapi.TxResult, error)
	// Nonce returns the next transaction nonce of an account (0 for an unknown account).
	Nonce(ctx context.Context, a crypto.Address) (uint64, error)
	// Storage challenges (challenge.go).
	ChallengeControlPlane
}

// Errors of a ControlPlane.
var (
	ErrNoCommittee  = errors.New("storagenode: no committee for the epoch")
	ErrNoBlobObject = errors.New("storagenode: no such blob object")
	ErrTxFailed     = errors.New("storagenode: transaction failed")
)
