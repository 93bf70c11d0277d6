package nodestore

import (
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/floelabs/floe/blob"
)

// The metadata record (key 0x01 || blob ID) is the BCS BlobMetadata of the blob, without the
// ID, which is in the key. BlobMetadata is itself a versioned enum (V1), so a later metadata
// format decodes or is refused by blob's decoder.

// encodeMetadata returns the stored value of m.
func encodeMetadata(m *blob.MetadataWithID) ([]byte, error) {
	v, err := m.Metadata.MarshalBCS()
	if err != nil {
		return nil, fmt.Errorf("%w: metadata of %s: %w", ErrInvalid, m.ID, err)
	}
	return v, nil
}

// decodeMetadata decodes the stored metadata value of blob id.
func decodeMetadata(id blob.ID, v []byte) (*blob.MetadataWithID, error) {
	m := &blob.MetadataWithID{ID: id}
	if err := m.Metadata.UnmarshalBCS(v); err != nil {
		return nil, fmt.Errorf("%w: metadata of %s: %w", ErrCorrupt, id, err)
	}
	return m, nil
}

// PutMetadata stores the metadata of a blob (synced), replacing any stored before. It does not
// verify the metadata against its ID: the caller does (blob.MetadataWithID.Verify).
func (s *Store) PutMetadata(ctx context.Context, m *blob.MetadataWithID) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.release()
	v, err := encodeMetadata(m)
	if err != nil {
		return err
	}
	if err := s.write(func(b *pebble.Batch) error { return b.Set(metadataKey(m.ID), v, nil) }); err != nil {
		return fmt.Errorf("nodestore: put metadata %s: %w", m.ID, err)
	}
	return nil
}

// Metadata returns the stored metadata of blob id, or an error wrapping ErrNotFound.
func (s *Store) Metadata(ctx context.Context, id blob.ID) (*blob.MetadataWithID, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	v, err := s.get(metadataKey(id))
	if err != nil {
		return nil, fmt.Errorf("nodestore: metadata %s: %w", id, err)
	}
	return decodeMetadata(id, v)
}

// HasMetadata reports whether the metadata of blob id is stored.
func (s *Store) HasMetadata(ctx context.Context, id blob.ID) (bool, error) {
	if err := s.begin(ctx); err != nil {
		return false, err
	}
	defer s.release()
	ok, err := s.has(metadataKey(id))
	if err != nil {
		return false, fmt.Errorf("nodestore: has metadata %s: %w", id, err)
	}
	return ok, nil
}

// DeleteMetadata deletes the metadata of blob id (synced). Deleting what is not stored is not
// an error.
func (s *Store) DeleteMetadata(ctx context.Context, id blob.ID) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.release()
	if err := s.write(func(b *pebble.Batch) error { return b.Delete(metadataKey(id), nil) }); err != nil {
		return fmt.Errorf("nodestore: delete metadata %s: %w", id, err)
	}
	return nil
}
