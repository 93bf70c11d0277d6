package storagenode

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/controlplane/embedded"
	"github.com/floelabs/floe/internal/controlplane/eventlog"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/storagenode/engine"
)

// ControlPlane is what a storage node needs from the control plane (engine.ControlPlane).
type ControlPlane = engine.ControlPlane

// Errors of a ControlPlane.
var (
	ErrNoCommittee  = engine.ErrNoCommittee
	ErrNoBlobObject = engine.ErrNoBlobObject
	ErrTxFailed     = engine.ErrTxFailed
	ErrEventsPruned = engine.ErrEventsPruned
)

// Embedded adapts an in-process embedded control plane.
type Embedded struct{ Chain *embedded.Chain }

var _ ControlPlane = Embedded{}

// Events implements ControlPlane.
func (e Embedded) Events(ctx context.Context, from uint64, max int) ([]cpapi.Event, error) {
	evs, err := e.Chain.Events(ctx, from, max)
	if err != nil && ctx.Err() != nil && len(evs) == 0 {
		return nil, nil // the wait ended
	}
	if errors.Is(err, eventlog.ErrPruned) {
		return nil, fmt.Errorf("%w: %w", ErrEventsPruned, err)
	}
	return evs, err
}

// ListState implements ControlPlane: the whole listing is one page, read at one state.
func (e Embedded) ListState(_ context.Context, f func(*cpapi.StatePage) error) (uint64, error) {
	var p cpapi.StatePage
	e.Chain.View(func(s *controlplane.State, _ controlplane.Hash) {
		p.Blobs, p.Invalid, _ = s.ListBlobs(0, math.MaxInt)
		p.EventSeq, p.Height, p.Epoch = s.EventSeq(), s.Height(), s.Epoch()
	})
	return p.EventSeq, f(&p)
}

// Committee implements ControlPlane.
func (e Embedded) Committee(_ context.Context, epoch uint32) (*cpapi.Committee, error) {
	var c *cpapi.Committee
	var ok bool
	e.Chain.View(func(s *controlplane.State, _ controlplane.Hash) { c, ok = s.Committee(epoch) })
	if !ok {
		return nil, fmt.Errorf("%w %d", ErrNoCommittee, epoch)
	}
	return c, nil
}

// Info implements ControlPlane.
func (e Embedded) Info(context.Context) (cpapi.Info, error) {
	var i cpapi.Info
	e.Chain.View(func(s *controlplane.State, h controlplane.Hash) { i = s.Info(); i.AppHash = cpapi.Hash(h) })
	return i, nil
}

// BlobObject implements ControlPlane.
func (e Embedded) BlobObject(_ context.Context, id cpapi.ObjectID) (cpapi.Blob, error) {
	var b cpapi.Blob
	var ok bool
	e.Chain.View(func(s *controlplane.State, _ controlplane.Hash) { b, ok = s.Blob(controlplane.ObjectID(id)) })
	if !ok {
		return b, fmt.Errorf("%w: %s", ErrNoBlobObject, id)
	}
	return b, nil
}

// Submit implements ControlPlane.
func (e Embedded) Submit(ctx context.Context, raw []byte) (*cpapi.TxResult, error) {
	out, err := e.Chain.Submit(ctx, raw)
	if err != nil {
		return nil, err
	}
	if !out.OK() {
		return &out.TxResult, fmt.Errorf("%w: %s: %s", ErrTxFailed, out.Code, out.Error)
	}
	return &out.TxResult, nil
}

// Nonce implements ControlPlane.
func (e Embedded) Nonce(_ context.Context, a crypto.Address) (uint64, error) {
	var n uint64
	e.Chain.View(func(s *controlplane.State, _ controlplane.Hash) { n = s.Account(a).Nonce })
	return n, nil
}

// Remote adapts the control-plane HTTP client.
type Remote struct {
	Client *cpclient.Client
	// Poll is the long-poll wait of Events when ctx has no deadline (default 2 s).
	Poll time.Duration
}

var _ ControlPlane = Remote{}

// Events implements ControlPlane.
func (c Remote) Events(ctx context.Context, from uint64, limit int) ([]cpapi.Event, error) {
	wait := c.Poll
	if wait == 0 {
		wait = 2 * time.Second
	}
	if d, ok := ctx.Deadline(); ok {
		// as long as ctx allows, leaving the request time to come back before ctx ends
		wait = time.Until(d) * 3 / 4
	}
	resp, err := c.Client.Events(ctx, from, limit, max(wait, 0))
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil
		}
		if errors.Is(err, cpclient.ErrEventsPruned) {
			return nil, fmt.Errorf("%w: %w", ErrEventsPruned, err)
		}
		return nil, err
	}
	return resp.Events, nil
}

// ListState implements ControlPlane, with pages of the largest size the API allows.
func (c Remote) ListState(ctx context.Context, f func(*cpapi.StatePage) error) (uint64, error) {
	return c.Client.ListState(ctx, cpapi.MaxStatePageLimit, f)
}

// Committee implements ControlPlane.
func (c Remote) Committee(ctx context.Context, epoch uint32) (*cpapi.Committee, error) {
	cm, err := c.Client.Committee(ctx, epoch)
	if errors.Is(err, cpclient.ErrNotFound) {
		return nil, fmt.Errorf("%w %d: %w", ErrNoCommittee, epoch, err)
	}
	return cm, err
}

// Info implements ControlPlane.
func (c Remote) Info(ctx context.Context) (cpapi.Info, error) {
	i, err := c.Client.Info(ctx)
	if err != nil {
		return cpapi.Info{}, err
	}
	return *i, nil
}

// BlobObject implements ControlPlane.
func (c Remote) BlobObject(ctx context.Context, id cpapi.ObjectID) (cpapi.Blob, error) {
	o, err := c.Client.Object(ctx, id)
	if errors.Is(err, cpclient.ErrNotFound) {
		return cpapi.Blob{}, fmt.Errorf("%w: %s", ErrNoBlobObject, id)
	}
	if err != nil {
		return cpapi.Blob{}, err
	}
	if o.Blob == nil {
		return cpapi.Blob{}, fmt.Errorf("%w: %s is not a blob", ErrNoBlobObject, id)
	}
	return *o.Blob, nil
}

// Submit implements ControlPlane.
func (c Remote) Submit(ctx context.Context, raw []byte) (*cpapi.TxResult, error) {
	out, err := c.Client.Submit(ctx, raw)
	if err != nil {
		if out != nil {
			return &out.TxResult, fmt.Errorf("%w: %w", ErrTxFailed, err)
		}
		return nil, err
	}
	return &out.TxResult, nil
}

// Nonce implements ControlPlane.
func (c Remote) Nonce(ctx context.Context, a crypto.Address) (uint64, error) {
	acc, err := c.Client.Account(ctx, cpapi.Address(a))
	if errors.Is(err, cpclient.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return acc.Nonce, nil
}
