package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/protocol"
)

// Confirmations signs storage confirmations.
type Confirmations struct{ *core }

// Confirm returns the node's signed storage confirmation of a blob (permanent or of one
// deletable object) for its current epoch: given only while the blob is registered and the
// node holds both slivers of every shard it owns. If the node has not seen the registration
// yet, it waits for it up to waitFor (at most MaxWaitForRegistration); a negative waitFor
// waits that maximum.
func (cf *Confirmations) Confirm(ctx context.Context, id blob.ID, pt protocol.PersistenceType, waitFor time.Duration) (api.Confirmation, error) {
	if waitFor < 0 || waitFor > cf.cfg.MaxWaitForRegistration {
		waitFor = cf.cfg.MaxWaitForRegistration
	}
	var err error
	var v *epochView
	if werr := cf.waitEvents(ctx, time.Now().Add(waitFor), func() bool {
		if v, err = cf.currentView(); err != nil {
			return true
		}
		err = cf.checkRegistered(ctx, id, v, pt)
		return err == nil || !errors.Is(err, ErrNotRegistered)
	}); werr != nil {
		return api.Confirmation{}, werr
	}
	if err != nil {
		return api.Confirmation{}, err
	}
	missing, err := cf.store.MissingSlivers(ctx, id, v.shards)
	if err != nil {
		return api.Confirmation{}, err
	}
	if len(missing) > 0 {
		return api.Confirmation{}, withMeta(fmt.Errorf("%w: %d of %d slivers missing (first: %s)", ErrMissingSlivers, len(missing), 2*len(v.shards), missing[0]),
			"missing", strconv.Itoa(len(missing)))
	}
	msg := protocol.StorageConfirmation{Epoch: v.epoch, BlobID: id, Persistence: pt}.Encode()
	sig := cf.key.Sign(msg)
	kind := "permanent"
	if pt.Deletable {
		kind = "deletable"
	}
	cf.m.confirmations.WithLabelValues(kind).Inc()
	return api.Confirmation{Signed: &api.SignedMessage{SerializedMessage: msg, Signature: sig[:]}}, nil
}

// checkRegistered checks that the blob (or, for a deletable confirmation, the blob object) is
// registered in the view's epoch.
func (c *core) checkRegistered(ctx context.Context, id blob.ID, v *epochView, pt protocol.PersistenceType) error {
	info, err := c.blobInfo(ctx, id)
	if err != nil {
		return err
	}
	if info.Invalid {
		return fmt.Errorf("%w: %s", ErrInvalidBlob, id)
	}
	if !info.IsRegistered(v.epoch) {
		return fmt.Errorf("%w: %s", ErrNotRegistered, id)
	}
	if !pt.Deletable {
		return nil
	}
	b, err := c.cp.BlobObject(ctx, cpapi.ObjectID(pt.ObjectID))
	if errors.Is(err, ErrNoBlobObject) {
		return fmt.Errorf("%w: blob object %s", ErrNotRegistered, pt.ObjectID)
	}
	if err != nil {
		return fmt.Errorf("blob object %s: %w", pt.ObjectID, err)
	}
	if b.BlobID != id || !b.Deletable || b.Storage.End <= v.epoch {
		return fmt.Errorf("%w: blob object %s is not a live deletable object of %s", ErrNotRegistered, pt.ObjectID, id)
	}
	return nil
}
