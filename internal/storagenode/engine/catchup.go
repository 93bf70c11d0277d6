package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/nodestore"
)

// ErrEventsPruned is what a ControlPlane's Events returns (wrapped) when the events from the
// asked sequence number on were pruned: the node catches up from a listing of the state.
var ErrEventsPruned = errors.New("storagenode: control-plane events pruned")

// errListingMoved: the state changed between the pages of a listing.
var errListingMoved = errors.New("the state changed during the listing")

// listingAttempts bounds the listings a catch-up starts before it gives up (the follower
// tries again after its backoff).
const listingAttempts = 5

// stateListing is the control plane's state as one listing saw it: every blob object by blob
// ID, and the invalid blob IDs, at event sequence number seq (every event before seq
// reflected, none from seq on).
type stateListing struct {
	seq     uint64
	epoch   uint32
	objects map[blob.ID][]cpapi.Blob
	invalid map[blob.ID]uint32
}

// listState lists the control plane's state. Every page must have been read at the same
// state: the node's blob infos count objects, so an event reflected in a late page and then
// applied again would count twice. A listing whose pages disagree is started over.
func (n *Events) listState(ctx context.Context) (*stateListing, error) {
	for attempt := 1; ; attempt++ {
		l := &stateListing{objects: map[blob.ID][]cpapi.Blob{}, invalid: map[blob.ID]uint32{}}
		first := true
		_, err := n.cp.ListState(ctx, func(p *cpapi.StatePage) error {
			if first {
				l.seq, l.epoch, first = p.EventSeq, p.Epoch, false
			} else if p.EventSeq != l.seq {
				return fmt.Errorf("%w (pages at events %d and %d)", errListingMoved, l.seq, p.EventSeq)
			}
			for _, b := range p.Blobs {
				l.objects[b.BlobID] = append(l.objects[b.BlobID], b)
			}
			for _, iv := range p.Invalid {
				l.invalid[iv.BlobID] = iv.Epoch
			}
			return nil
		})
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, errListingMoved) || attempt == listingAttempts {
			return nil, fmt.Errorf("listing the control plane's state: %w", err)
		}
		n.log.Info("state listing moved; listing again", "attempt", attempt, "err", err)
	}
}

// rebuildInfo is the blob info of a blob ID with the given objects (and, if invalid, proven
// invalid in invalidEpoch), keeping the event IDs of old, the node's previous info, where
// they still describe the same lifetimes (a listing carries no event IDs).
func rebuildInfo(objects []cpapi.Blob, invalidEpoch uint32, invalid bool, old nodestore.BlobInfo) nodestore.BlobInfo {
	var info nodestore.BlobInfo
	for _, b := range objects {
		c := nodestore.BlobChange{Kind: nodestore.Registered, Epoch: b.RegisteredEpoch, EndEpoch: b.Storage.End, Deletable: b.Deletable}
		info.Apply(c) // Registered and Certified never fail
		if b.Certified {
			c.Kind, c.Epoch = nodestore.Certified, b.CertifiedEpoch
			info.Apply(c)
		}
	}
	if old.Permanent.EndEpoch == info.Permanent.EndEpoch {
		info.Permanent.Event = old.Permanent.Event
	}
	if old.PermanentCertified.EndEpoch == info.PermanentCertified.EndEpoch {
		info.PermanentCertified.Event = old.PermanentCertified.Event
	}
	if invalid {
		info.Invalid, info.InvalidEpoch = true, invalidEpoch
		if old.Invalid {
			info.InvalidEpoch, info.InvalidEvent = old.InvalidEpoch, old.InvalidEvent
		}
	}
	return info
}

// catchUp brings the node past events the control plane pruned before the node applied
// them: it lists the state, replaces every blob info by what the listing says (blob IDs the
// listing does not name are forgotten, so garbage collection drops their data) and moves the
// cursor to the listing's point, atomically; then it does what applying the missed events
// would have done: stores pending uploads of registered blobs, drops the data of blobs
// proven invalid, loads the current committee and sweeps for missing slivers.
func (n *Events) catchUp(ctx context.Context) error {
	start := time.Now()
	l, err := n.listState(ctx)
	if err != nil {
		return err
	}
	n.mu.RLock()
	from := n.cursor
	n.mu.RUnlock()
	if l.seq <= from {
		return fmt.Errorf("the state listing is at event %d, not past the node's cursor %d", l.seq, from)
	}
	old := map[blob.ID]nodestore.BlobInfo{}
	for next := (blob.ID{}); ; {
		page, err := n.store.BlobInfos(ctx, next, 1000)
		if err != nil {
			return err
		}
		for _, e := range page {
			old[e.ID] = e.Info
		}
		if len(page) < 1000 {
			break
		}
		next = page[len(page)-1].ID
		if next = successor(next); next == (blob.ID{}) {
			break
		}
	}
	for id := range l.objects {
		n.flushPending(ctx, id)
	}
	var newlyInvalid []blob.ID
	err = n.store.ApplyEvent(ctx, l.seq-1, func(tx *nodestore.EventTx) error {
		for id := range old {
			_, listed := l.objects[id]
			if _, inv := l.invalid[id]; !listed && !inv {
				if err := tx.DeleteBlobInfo(id); err != nil {
					return err
				}
			}
		}
		put := func(id blob.ID, objects []cpapi.Blob) error {
			epoch, invalid := l.invalid[id]
			if invalid && !old[id].Invalid {
				newlyInvalid = append(newlyInvalid, id)
			}
			return tx.PutBlobInfo(id, rebuildInfo(objects, epoch, invalid, old[id]))
		}
		for id, objects := range l.objects {
			if err := put(id, objects); err != nil {
				return err
			}
		}
		for id := range l.invalid {
			if _, listed := l.objects[id]; !listed {
				if err := put(id, nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range newlyInvalid {
		n.dropInvalid(ctx, id)
	}
	n.mu.Lock()
	n.cursor, n.applied = l.seq, l.seq
	n.latest = max(n.latest, l.seq)
	n.mu.Unlock()
	n.m.eventCursor.Set(float64(l.seq - 1))
	if err := n.refreshCommittee(ctx, l.epoch); err != nil {
		n.log.Warn("committee refresh", "epoch", l.epoch, "err", err)
	}
	n.recovery.requestSweep()
	n.mu.Lock()
	close(n.changed)
	n.changed = make(chan struct{})
	n.mu.Unlock()
	n.log.Warn("caught up from the state listing after events were pruned", "from", from, "to", l.seq,
		"blob_ids", len(l.objects), "invalid", len(l.invalid), "forgotten", len(old)-countListed(old, l), "took", time.Since(start))
	return nil
}

// countListed counts the blob IDs of old that the listing names.
func countListed(old map[blob.ID]nodestore.BlobInfo, l *stateListing) int {
	n := 0
	for id := range old {
		_, listed := l.objects[id]
		_, inv := l.invalid[id]
		if listed || inv {
			n++
		}
	}
	return n
}

// successor returns the blob ID after id in byte order (zero after the last).
func successor(id blob.ID) blob.ID {
	for i := len(id) - 1; i >= 0; i-- {
		id[i]++
		if id[i] != 0 {
			return id
		}
	}
	return blob.ID{}
}
