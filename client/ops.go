package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/fanout"
)

// BlobStatus is the status of a blob ID: the control plane's (authoritative), with the
// certifying event as the storage nodes report it.
type BlobStatus struct {
	Status      BlobStatusKind `json:"status"`
	BlobID      blob.ID        `json:"blob_id"`
	EndEpoch    uint32         `json:"end_epoch,omitempty"`
	IsCertified bool           `json:"is_certified,omitempty"`
	// ObjectID is the permanent object the status describes.
	ObjectID              ObjectID        `json:"object_id,omitzero"`
	InitialCertifiedEpoch *uint32         `json:"initial_certified_epoch,omitempty"`
	DeletableCounts       DeletableCounts `json:"deletable_counts"`
	InvalidEpoch          uint32          `json:"invalid_epoch,omitempty"`
	// Event is the event behind a permanent status as nodes holding at least f+1 shards
	// report it (nil if they do not agree or were not asked).
	Event *EventID `json:"event,omitempty"`
	// Epoch is the current epoch.
	Epoch uint32 `json:"epoch"`
}

// Certified reports whether the blob is certified by a live object (and not invalid).
func (s *BlobStatus) Certified() bool {
	return (s.Status == StatusPermanent && s.IsCertified) || (s.Status != StatusInvalid && s.DeletableCounts.Certified > 0)
}

// Status returns the status of a blob ID.
func (c *Client) Status(ctx context.Context, id blob.ID) (*BlobStatus, error) {
	st, err := c.cp.BlobStatus(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("client: blob status: %w", err)
	}
	out := &BlobStatus{Status: BlobStatusKind(st.Status), BlobID: st.BlobID, EndEpoch: st.EndEpoch, IsCertified: st.IsCertified,
		ObjectID: ObjectID(st.ObjectID), InitialCertifiedEpoch: st.InitialCertifiedEpoch,
		DeletableCounts: DeletableCounts(st.DeletableCounts), InvalidEpoch: st.InvalidEpoch}
	v, err := c.committee(ctx, false)
	if err != nil {
		return out, nil // the control plane's status stands alone
	}
	out.Epoch = v.c.Epoch
	if out.Status == StatusPermanent {
		if ns, err := c.nodeStatus(ctx, v, id); err == nil && ns.Permanent != nil {
			ev := ns.Permanent.StatusEvent
			out.Event = &ev
		}
	}
	return out, nil
}

// nodeStatus asks the committee for a blob's status (spec §11.4 step 1) and returns the
// "latest" status that nodes holding at least f+1 shards report identically.
func (c *Client) nodeStatus(ctx context.Context, v *committeeView, id blob.ID) (*api.BlobStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, c.comm.StatusTimeout)
	defer cancel()
	type key struct {
		kind      int
		end       uint32
		certified bool
		event     EventID
	}
	var tasks []fanout.Task
	for i, n := range v.nodes {
		if n != nil {
			tasks = append(tasks, fanout.Task{Node: i, Key: i, Weight: v.weights[i]})
		}
	}
	job := fanout.Start(ctx, fanout.Config{Nodes: len(v.nodes), Limit: c.comm.MaxConcurrentStatusReads}, tasks,
		func(ctx context.Context, i int, _ []fanout.Task) (api.BlobStatus, error) {
			return v.nodes[i].WithTimeout(c.comm.StatusTimeout).BlobStatus(ctx, id)
		})
	defer job.Stop()
	weights := map[key]int{}
	var answer *api.BlobStatus
	for answer == nil {
		res, err := job.Next(time.Time{})
		if err != nil {
			break // over, or out of time
		}
		if res.Err != nil {
			continue
		}
		st := res.Value
		var k key
		switch {
		case st.Invalid != nil:
			k = key{kind: 3, event: st.Invalid.Event}
		case st.Permanent != nil:
			k = key{kind: 2, end: st.Permanent.EndEpoch, certified: st.Permanent.IsCertified, event: st.Permanent.StatusEvent}
		case st.Deletable != nil:
			k = key{kind: 1}
		}
		weights[k] += v.weights[res.Node]
		if weights[k] >= v.params.Validity() {
			answer = &st
		}
	}
	if answer == nil {
		return nil, fmt.Errorf("client: no blob status backed by %d shards", v.params.Validity())
	}
	return answer, nil
}

// BlobByObjectID returns a blob object.
func (c *Client) BlobByObjectID(ctx context.Context, objectID ObjectID) (*Blob, error) {
	ob, err := c.cp.Object(ctx, cpapi.ObjectID(objectID))
	if errors.Is(err, cpclient.ErrNotFound) {
		return nil, fmt.Errorf("%w: object %s: %w", ErrBlobNotFound, objectID, err)
	}
	if err != nil {
		return nil, fmt.Errorf("client: object %s: %w", objectID, err)
	}
	if ob.Blob == nil {
		return nil, fmt.Errorf("%w: object %s is not a blob", ErrBlobNotFound, objectID)
	}
	return blobFromAPI(ob.Blob), nil
}

// Delete deletes a deletable blob object owned by the wallet; its storage returns to the
// wallet (a later store reuses it). The blob stays readable while another certified object
// of the same blob ID lives.
func (c *Client) Delete(ctx context.Context, objectID ObjectID) error {
	_, err := c.execute(ctx, "delete blob", cpapi.Op{DeleteBlob: &cpapi.DeleteBlobOp{BlobObjectID: cpapi.ObjectID(objectID)}})
	if errors.Is(err, cpclient.ErrNotFound) {
		return fmt.Errorf("%w: %w", ErrBlobNotFound, err)
	}
	return err
}

// ExtendResult is the outcome of an extension.
type ExtendResult struct {
	Blob *Blob
	// Cost is what the extension paid.
	Cost uint64
}

// Extend pays for epochs more epochs of a certified blob object owned by the wallet.
func (c *Client) Extend(ctx context.Context, objectID ObjectID, epochs uint32) (*ExtendResult, error) {
	b, err := c.BlobByObjectID(ctx, objectID)
	if err != nil {
		return nil, err
	}
	v, err := c.committee(ctx, false)
	if err != nil {
		return nil, err
	}
	if _, err := c.execute(ctx, "extend blob", cpapi.Op{ExtendBlob: &cpapi.ExtendBlobOp{BlobObjectID: cpapi.ObjectID(objectID), Epochs: epochs}}); err != nil {
		return nil, err
	}
	units := (b.Storage.Size + mib - 1) / mib
	res := &ExtendResult{Cost: v.c.StoragePrice * units * uint64(epochs)}
	if res.Blob, err = c.BlobByObjectID(ctx, objectID); err != nil {
		return nil, err
	}
	return res, nil
}

// ListBlobs returns the blob objects an account owns (the wallet's if owner is nil).
func (c *Client) ListBlobs(ctx context.Context, owner *Address) ([]Blob, error) {
	if owner == nil {
		if c.cfg.Wallet == nil {
			return nil, ErrNoWallet
		}
		a := Address(c.cfg.Wallet.Address())
		owner = &a
	}
	o, err := c.cp.Owned(ctx, cpapi.Address(*owner))
	if err != nil {
		return nil, fmt.Errorf("client: owned objects: %w", err)
	}
	return blobsFromAPI(o.Blobs), nil
}

// Info is a summary of the network.
type Info struct {
	Params         Params     `json:"params"`
	Height         uint64     `json:"height"`
	TimeMs         int64      `json:"time_ms"`
	Epoch          uint32     `json:"epoch"`
	EpochStartMs   int64      `json:"epoch_start_ms"`
	NextEpochMs    int64      `json:"next_epoch_ms"`
	Prices         Prices     `json:"prices"`
	CommitteeSize  int        `json:"committee_size"`
	RegisteredNode int        `json:"registered_nodes"`
	EventSeq       uint64     `json:"event_seq"`
	AppHash        Hash       `json:"app_hash"`
	Committee      *Committee `json:"committee"`
}

// Info returns the control plane's summary and the current committee.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	in, err := c.cp.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("client: info: %w", err)
	}
	out := &Info{Params: paramsFromAPI(in.Params), Height: in.Height, TimeMs: in.TimeMs, Epoch: in.Epoch,
		EpochStartMs: in.EpochStartMs, NextEpochMs: in.NextEpochMs, Prices: pricesFromAPI(in.Prices),
		CommitteeSize: in.CommitteeSize, RegisteredNode: in.RegisteredNode, EventSeq: in.EventSeq, AppHash: Hash(in.AppHash)}
	if v, err := c.committee(ctx, true); err == nil {
		out.Committee = v.c
	}
	return out, nil
}

// Address returns the wallet's address (zero without a wallet).
func (c *Client) Address() Address {
	if c.cfg.Wallet == nil {
		return Address{}
	}
	return Address(c.cfg.Wallet.Address())
}

// Balance returns the wallet's balance.
func (c *Client) Balance(ctx context.Context) (uint64, error) {
	if c.cfg.Wallet == nil {
		return 0, ErrNoWallet
	}
	a, err := c.cp.Account(ctx, cpapi.Address(c.cfg.Wallet.Address()))
	if err != nil {
		return 0, fmt.Errorf("client: account: %w", err)
	}
	return a.Balance, nil
}
