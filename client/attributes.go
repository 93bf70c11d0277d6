package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
)

// Limits on a blob object's attributes, as the control plane enforces them.
const (
	MaxAttributes      = 64
	MaxAttributeKeyLen = 128
	MaxAttributeValLen = 1024
)

// SetAttributes inserts or replaces attributes of a blob object owned by the wallet, then
// removes the keys in remove, in one transaction.
func (c *Client) SetAttributes(ctx context.Context, objectID ObjectID, set map[string]string, remove []string) error {
	_, err := c.execute(ctx, "set attributes", cpapi.Op{SetAttributes: &cpapi.SetAttributesOp{BlobObjectID: cpapi.ObjectID(objectID), Set: set, Remove: remove}})
	if errors.Is(err, cpclient.ErrNotFound) {
		return fmt.Errorf("%w: %w", ErrBlobNotFound, err)
	}
	return err
}

// EventType names a control-plane event.
type EventType string

// Event types a follower of blob objects reacts to.
const (
	EventBlobCertified     EventType = EventType(cpapi.EventBlobCertified)
	EventBlobDeleted       EventType = EventType(cpapi.EventBlobDeleted)
	EventBlobExtended      EventType = EventType(cpapi.EventBlobExtended)
	EventBlobAttributes    EventType = EventType(cpapi.EventBlobAttributes)
	EventObjectTransferred EventType = EventType(cpapi.EventObjectTransferred)
	EventEpochChangeDone   EventType = EventType(cpapi.EventEpochChangeDone)
)

// Event is one control-plane event (a blob registered, certified, deleted, its attributes
// changed, an epoch change, ...), numbered by a global sequence number; fields that do not
// apply to its type are zero.
type Event struct {
	Seq      uint64    `json:"seq"`
	Type     EventType `json:"type"`
	Epoch    uint32    `json:"epoch"`
	BlobID   blob.ID   `json:"blob_id,omitzero"`
	ObjectID ObjectID  `json:"object_id,omitzero"`
	Owner    Address   `json:"owner,omitzero"`
	To       Address   `json:"to,omitzero"`
}

// Events returns up to limit control-plane events with sequence numbers from from on, waiting
// up to wait for the first one, and the cursor of the next page. Events the control plane
// pruned give an error wrapping ErrEventsPruned.
func (c *Client) Events(ctx context.Context, from uint64, limit int, wait time.Duration) ([]Event, uint64, error) {
	page, err := c.cp.Events(ctx, from, limit, wait)
	if errors.Is(err, cpclient.ErrEventsPruned) {
		return nil, from, fmt.Errorf("%w: %w", ErrEventsPruned, err)
	}
	if err != nil {
		return nil, from, fmt.Errorf("client: events: %w", err)
	}
	out := make([]Event, len(page.Events))
	for i, e := range page.Events {
		out[i] = Event{Seq: e.Seq, Type: EventType(e.Type), Epoch: e.Epoch, BlobID: e.BlobID,
			ObjectID: ObjectID(e.ObjectID), Owner: Address(e.Owner), To: Address(e.To)}
	}
	return out, page.Next, nil
}

// Head is where the control plane stands.
type Head struct {
	// NextEvent is the next event's sequence number: a follower that has applied every event
	// before it has seen all of the state.
	NextEvent uint64
	// Epoch is the current epoch.
	Epoch uint32
	// TimeMs is the time of the latest block, in Unix milliseconds (it never goes back).
	TimeMs int64
}

// Head returns where the control plane stands.
func (c *Client) Head(ctx context.Context) (Head, error) {
	in, err := c.cp.Info(ctx)
	if err != nil {
		return Head{}, fmt.Errorf("client: info: %w", err)
	}
	return Head{NextEvent: in.EventSeq, Epoch: in.Epoch, TimeMs: in.TimeMs}, nil
}

// MaxEpochsAhead returns how many epochs ahead storage can be bought at most.
func (c *Client) MaxEpochsAhead(ctx context.Context) (uint32, error) {
	in, err := c.cp.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("client: info: %w", err)
	}
	return in.Params.MaxEpochsAhead, nil
}
