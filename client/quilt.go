package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/quilt"
)

// Quilt blob attribute, as Walrus's client sets it on the Blob object of a quilt.
const (
	// AttrBlobType is the attribute naming a blob object's kind.
	AttrBlobType = "_walrusBlobType"
	// BlobTypeQuilt is AttrBlobType's value for a quilt.
	BlobTypeQuilt = "quilt"
)

var (
	// ErrQuiltPatchNotFound: the quilt has no patch with the identifier, tag or patch ID asked
	// for.
	ErrQuiltPatchNotFound = errors.New("client: quilt patch not found")
	// ErrNotQuilt: the blob is not a quilt (its size is not a quilt's, or its index or patch
	// does not decode).
	ErrNotQuilt = errors.New("client: not a quilt")
)

// QuiltPatchInfo names a patch of a stored quilt.
type QuiltPatchInfo struct {
	Identifier string            `json:"identifier"`
	PatchID    quilt.PatchID     `json:"patchId"`
	Tags       map[string]string `json:"tags,omitempty"`
}

// QuiltStoreResult is the outcome of StoreQuilt: the store of the quilt blob, and the patches
// it holds in the quilt's order (byte-wise order of the identifiers).
type QuiltStoreResult struct {
	*StoreResult
	Patches []QuiltPatchInfo
}

// QuiltPatch is a patch read from a quilt.
type QuiltPatch struct {
	quilt.Patch
	ID quilt.PatchID
}

// QuiltReadStats counts what a quilt read fetched from the storage nodes: the secondary slivers
// (columns) of the index and of the patches, each verified against the quilt's metadata, the
// recovery symbols of columns that had to be rebuilt, and the metadata (unless cached).
type QuiltReadStats struct {
	// Columns is how many columns were read (fetched or recovered); SliverBytes are the bytes
	// of the slivers fetched.
	Columns     int   `json:"columns"`
	SliverBytes int64 `json:"sliverBytes"`
	// FromPrevious columns were fetched from their shard's previous owner: during an epoch
	// change the new owner of a shard may not hold the quilt's slivers yet.
	FromPrevious int `json:"fromPrevious"`
	// Recovered columns were rebuilt from SymbolBytes of recovery symbols of other nodes.
	Recovered   int   `json:"recovered"`
	SymbolBytes int64 `json:"symbolBytes"`
	// MetadataBytes is the size of the metadata fetched (0 when it was cached).
	MetadataBytes int64 `json:"metadataBytes"`
	// FullRead is set when columns could not be had and the whole quilt was read instead.
	FullRead bool `json:"fullRead"`
}

// Bytes returns everything fetched from nodes, but for a full read (which is not counted).
func (s QuiltReadStats) Bytes() int64 { return s.SliverBytes + s.SymbolBytes + s.MetadataBytes }

// QuiltReadResult holds the patches of a quilt read and what it fetched.
type QuiltReadResult struct {
	Patches []QuiltPatch
	Stats   QuiltReadStats
}

// StoreQuilt encodes patches as one quilt (Walrus's QuiltV1, package quilt) and stores it as a
// blob with opts (see StoreBytes); the wallet's blob object of the quilt gets the attribute
// _walrusBlobType=quilt before it is sent to opts.SendObjectTo. The result names every patch
// with its QuiltPatchId. At most K_s-1 patches fit in one quilt (666 for n = 1000).
func (c *Client) StoreQuilt(ctx context.Context, patches []quilt.Patch, opts StoreOptions) (*QuiltStoreResult, error) {
	v, err := c.committee(ctx, false)
	if err != nil {
		return nil, err
	}
	q, err := quilt.Encode(v.c.NShards, patches)
	if errors.Is(err, quilt.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %w", ErrBlobTooLarge, err)
	}
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	sendTo := opts.SendObjectTo
	opts.SendObjectTo = nil
	res, err := c.StoreBytes(ctx, q.Data, opts)
	if err != nil {
		return nil, err
	}
	out := &QuiltStoreResult{StoreResult: res}
	for i, pid := range q.Index.PatchIDs(res.BlobID) {
		e := q.Index.Patches[i]
		out.Patches = append(out.Patches, QuiltPatchInfo{Identifier: e.Identifier, PatchID: pid, Tags: e.Tags})
	}
	// Mark the object as a quilt if it is the wallet's (a store that found the quilt already
	// certified may name another account's object).
	owned := res.Blob != nil && res.Blob.Owner == c.Address()
	if owned && res.Blob.Attributes[AttrBlobType] != BlobTypeQuilt {
		if err := c.SetAttributes(ctx, res.ObjectID, map[string]string{AttrBlobType: BlobTypeQuilt}, nil); err != nil {
			return out, fmt.Errorf("client: quilt %s stored as object %s, but setting its %s attribute failed: %w", res.BlobID, res.ObjectID, AttrBlobType, err)
		}
		res.Blob.Attributes = map[string]string{AttrBlobType: BlobTypeQuilt}
		if b, err := c.BlobByObjectID(ctx, res.ObjectID); err == nil {
			res.Blob = b
		}
	}
	if sendTo != nil && res.NewlyCreated {
		if err := c.Transfer(ctx, res.ObjectID, *sendTo); err != nil {
			return out, fmt.Errorf("client: quilt %s certified as object %s, but the transfer failed: %w", res.BlobID, res.ObjectID, err)
		}
		if b, err := c.BlobByObjectID(ctx, res.ObjectID); err == nil {
			res.Blob = b
		}
	}
	return out, nil
}

// QuiltIndex reads a quilt's index: only its first columns (secondary slivers), each verified
// against the quilt's metadata.
func (c *Client) QuiltIndex(ctx context.Context, quiltID blob.ID) (*quilt.Index, error) {
	var ix *quilt.Index
	_, err := c.readQuilt(ctx, quiltID, func(r *quiltReader) error {
		var err error
		ix, err = r.index(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ix, nil
}

// ListQuiltPatches returns the patches of a quilt with their IDs and tags, reading only the
// quilt's index columns.
func (c *Client) ListQuiltPatches(ctx context.Context, quiltID blob.ID) ([]QuiltPatchInfo, error) {
	ix, err := c.QuiltIndex(ctx, quiltID)
	if err != nil {
		return nil, err
	}
	out := make([]QuiltPatchInfo, 0, len(ix.Patches))
	for i, pid := range ix.PatchIDs(quiltID) {
		e := ix.Patches[i]
		out = append(out, QuiltPatchInfo{Identifier: e.Identifier, PatchID: pid, Tags: e.Tags})
	}
	return out, nil
}

// ReadQuiltPatch reads one patch by its QuiltPatchId (see ReadQuiltPatchesByID).
func (c *Client) ReadQuiltPatch(ctx context.Context, id quilt.PatchID) (*QuiltPatch, error) {
	res, err := c.ReadQuiltPatchesByID(ctx, []quilt.PatchID{id})
	if err != nil {
		return nil, err
	}
	return &res.Patches[0], nil
}

// ReadQuiltPatchesByID reads patches by QuiltPatchId, in the order given. For each it fetches
// only the secondary slivers (columns) the patch ID spans, from the nodes that hold them,
// and verifies each against the quilt's metadata; a column that cannot be fetched is rebuilt
// from recovery symbols of other nodes; if that fails too, the whole quilt is read and
// decoded instead. The patch's bytes are decoded as untrusted data.
func (c *Client) ReadQuiltPatchesByID(ctx context.Context, ids []quilt.PatchID) (*QuiltReadResult, error) {
	out := &QuiltReadResult{Patches: make([]QuiltPatch, len(ids))}
	// One reader per quilt, so that columns two patches share are read once.
	var quilts []blob.ID
	byQuilt := map[blob.ID][]int{}
	for i, id := range ids {
		if _, ok := byQuilt[id.Quilt]; !ok {
			quilts = append(quilts, id.Quilt)
		}
		byQuilt[id.Quilt] = append(byQuilt[id.Quilt], i)
	}
	for _, q := range quilts {
		st, err := c.readQuilt(ctx, q, func(r *quiltReader) error {
			for _, i := range byQuilt[q] {
				p, err := r.patch(ctx, ids[i].Patch)
				if err != nil {
					return err
				}
				out.Patches[i] = QuiltPatch{Patch: *p, ID: ids[i]}
			}
			return nil
		})
		out.Stats.add(st)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ReadQuiltPatches reads the patches of a quilt with the given identifiers, in the order given:
// the index columns, then only each patch's columns (see ReadQuiltPatchesByID). An identifier
// the quilt does not hold is an error wrapping ErrQuiltPatchNotFound.
func (c *Client) ReadQuiltPatches(ctx context.Context, quiltID blob.ID, identifiers []string) (*QuiltReadResult, error) {
	return c.readQuiltEntries(ctx, quiltID, func(ix *quilt.Index) ([]quilt.IndexEntry, error) {
		var es []quilt.IndexEntry
		for _, ident := range identifiers {
			e, ok := ix.Lookup(ident)
			if !ok {
				return nil, fmt.Errorf("%w: quilt %s has no patch %q", ErrQuiltPatchNotFound, quiltID, ident)
			}
			es = append(es, e)
		}
		return es, nil
	})
}

// ReadQuiltPatchesByTag reads the patches of a quilt whose tag key has the given value, in the
// quilt's order (none is not an error).
func (c *Client) ReadQuiltPatchesByTag(ctx context.Context, quiltID blob.ID, key, value string) (*QuiltReadResult, error) {
	return c.readQuiltEntries(ctx, quiltID, func(ix *quilt.Index) ([]quilt.IndexEntry, error) {
		return ix.ByTag(key, value), nil
	})
}

// ReadQuilt reads every patch of a quilt.
func (c *Client) ReadQuilt(ctx context.Context, quiltID blob.ID) (*QuiltReadResult, error) {
	return c.readQuiltEntries(ctx, quiltID, func(ix *quilt.Index) ([]quilt.IndexEntry, error) {
		return ix.Patches, nil
	})
}

func (c *Client) readQuiltEntries(ctx context.Context, quiltID blob.ID, pick func(*quilt.Index) ([]quilt.IndexEntry, error)) (*QuiltReadResult, error) {
	out := &QuiltReadResult{}
	st, err := c.readQuilt(ctx, quiltID, func(r *quiltReader) error {
		out.Patches = out.Patches[:0]
		ix, err := r.index(ctx)
		if err != nil {
			return err
		}
		es, err := pick(ix)
		if err != nil {
			return err
		}
		for _, e := range es {
			p, err := r.patch(ctx, e.InternalID())
			if err != nil {
				return err
			}
			if p.Identifier != e.Identifier {
				return fmt.Errorf("%w: quilt %s: the index names %q at columns [%d, %d), the patch there is %q", ErrNotQuilt, quiltID, e.Identifier, e.Start, e.End, p.Identifier)
			}
			out.Patches = append(out.Patches, QuiltPatch{Patch: *p, ID: quilt.PatchID{Quilt: quiltID, Patch: e.InternalID()}})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.Stats = st
	return out, nil
}

func (s *QuiltReadStats) add(o QuiltReadStats) {
	s.Columns += o.Columns
	s.SliverBytes += o.SliverBytes
	s.FromPrevious += o.FromPrevious
	s.Recovered += o.Recovered
	s.SymbolBytes += o.SymbolBytes
	s.MetadataBytes += o.MetadataBytes
	s.FullRead = s.FullRead || o.FullRead
}
