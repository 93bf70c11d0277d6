package nodestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/floelabs/floe/blob"
)

// The event cursor (key 0x00 "event-cursor") is the u64 big-endian sequence number of the
// last control-plane event the node applied. It only ever changes inside ApplyEvent, in the
// same batch as the blob-info changes of that event.

func decodeCursor(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: event cursor of %d bytes", ErrCorrupt, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// EventCursor returns the sequence number of the last applied event; ok is false if no event
// was ever applied.
func (s *Store) EventCursor(ctx context.Context) (seq uint64, ok bool, err error) {
	if err := s.begin(ctx); err != nil {
		return 0, false, err
	}
	defer s.release()
	return s.cursor()
}

func (s *Store) cursor() (uint64, bool, error) {
	v, err := s.get(keyEventCursor)
	if errors.Is(err, ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("nodestore: event cursor: %w", err)
	}
	seq, err := decodeCursor(v)
	if err != nil {
		return 0, false, fmt.Errorf("nodestore: %w", err)
	}
	return seq, true, nil
}

// EventTx is the set of blob-info changes that one ApplyEvent call makes. Reads see the
// changes made earlier in the same transaction. It is valid only during the call.
type EventTx struct {
	b *pebble.Batch
}

// BlobInfo returns the blob info of id as the transaction sees it; ok is false if there is
// none.
func (tx *EventTx) BlobInfo(id blob.ID) (info BlobInfo, ok bool, err error) {
	v, closer, err := tx.b.Get(blobInfoKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return BlobInfo{}, false, nil
	}
	if err != nil {
		return BlobInfo{}, false, fmt.Errorf("blob info %s: %w", id, err)
	}
	defer closeAll(&err, closer)
	if err := info.UnmarshalBinary(v); err != nil {
		return BlobInfo{}, false, fmt.Errorf("blob info %s: %w", id, err)
	}
	return info, true, nil
}

// PutBlobInfo sets the blob info of id.
func (tx *EventTx) PutBlobInfo(id blob.ID, info BlobInfo) error {
	v, err := info.MarshalBinary()
	if err != nil {
		return err
	}
	return tx.b.Set(blobInfoKey(id), v, nil)
}

// ApplyChange reads the blob info of id (zero if none), applies c and writes it back.
func (tx *EventTx) ApplyChange(id blob.ID, c BlobChange) (BlobInfo, error) {
	info, _, err := tx.BlobInfo(id)
	if err != nil {
		return BlobInfo{}, err
	}
	if err := info.Apply(c); err != nil {
		return BlobInfo{}, fmt.Errorf("blob %s: %s: %w", id, c.Kind, err)
	}
	return info, tx.PutBlobInfo(id, info)
}

// DeleteBlobInfo removes the blob info of id.
func (tx *EventTx) DeleteBlobInfo(id blob.ID) error {
	return tx.b.Delete(blobInfoKey(id), nil)
}

// ApplyEvent applies the effects of the control-plane events up to and including sequence
// number seq and advances the event cursor to seq, atomically and durably: fn records the
// blob-info changes in tx, and they are committed (synced) together with the new cursor, or,
// if fn fails, not at all. After a crash the store has either every change and the new cursor
// or none of them, so the node, resuming after the cursor, applies each event exactly once.
// One call may cover several events (a run of events applied together).
//
// seq must be above the cursor: otherwise ApplyEvent returns an error wrapping
// ErrEventApplied and changes nothing. Calls are serialized.
func (s *Store) ApplyEvent(ctx context.Context, seq uint64, fn func(tx *EventTx) error) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.release()
	s.eventMu.Lock()
	defer s.eventMu.Unlock()
	cur, ok, err := s.cursor()
	if err != nil {
		return err
	}
	if ok && seq <= cur {
		return fmt.Errorf("nodestore: apply event %d: %w (cursor at %d)", seq, ErrEventApplied, cur)
	}
	b := s.db.NewIndexedBatch()
	defer b.Close()
	if err := fn(&EventTx{b: b}); err != nil {
		return fmt.Errorf("nodestore: apply event %d: %w", seq, err)
	}
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], seq)
	if err := b.Set(keyEventCursor, buf[:], nil); err != nil {
		return fmt.Errorf("nodestore: apply event %d: %w", seq, err)
	}
	if err := s.commit(b); err != nil {
		return fmt.Errorf("nodestore: apply event %d: %w", seq, err)
	}
	return nil
}

// BlobInfo returns the blob info of id, or an error wrapping ErrNotFound.
func (s *Store) BlobInfo(ctx context.Context, id blob.ID) (BlobInfo, error) {
	if err := s.begin(ctx); err != nil {
		return BlobInfo{}, err
	}
	defer s.release()
	v, err := s.get(blobInfoKey(id))
	if err != nil {
		return BlobInfo{}, fmt.Errorf("nodestore: blob info %s: %w", id, err)
	}
	var info BlobInfo
	if err := info.UnmarshalBinary(v); err != nil {
		return BlobInfo{}, fmt.Errorf("nodestore: blob info %s: %w", id, err)
	}
	return info, nil
}

// BlobStatus returns the status of blob id in epoch; a blob without blob info is
// nonexistent.
func (s *Store) BlobStatus(ctx context.Context, id blob.ID, epoch uint32) (BlobStatus, error) {
	info, err := s.BlobInfo(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return BlobStatus{Kind: StatusNonexistent}, nil
	}
	if err != nil {
		return BlobStatus{}, err
	}
	return info.Status(epoch), nil
}
