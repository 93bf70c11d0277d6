package client

import (
	"context"
	"errors"
	"fmt"
	"sort"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
)

// The SDK calls behind Walrus's blob-management commands that are not part of storing and
// reading: costs, blob attributes and burning.

// Cost is what storing a blob costs at the current prices.
type Cost struct {
	// EncodedLength is the encoded length storage is charged for.
	EncodedLength uint64 `json:"encoded_length"`
	// StorageCost is the storage for the epochs; WriteFee the one-time write fee.
	StorageCost uint64 `json:"storage_cost"`
	WriteFee    uint64 `json:"write_fee"`
	// Total is StorageCost + WriteFee: what a store that buys new storage pays.
	Total uint64 `json:"total"`
}

// StoreCost returns what storing size bytes for epochs epochs costs at the current prices when
// new storage is bought (Walrus's `store --dry-run` cost).
func (c *Client) StoreCost(ctx context.Context, size uint64, epochs uint32) (*Cost, error) {
	r, err := c.cp.Cost(ctx, size, epochs)
	if err != nil {
		return nil, fmt.Errorf("client: cost: %w", err)
	}
	return &Cost{EncodedLength: r.EncodedLength, StorageCost: r.StorageCost, WriteFee: r.WriteFee, Total: r.Total}, nil
}

// Attributes returns the attributes of a blob object (nil if it has none).
func (c *Client) Attributes(ctx context.Context, objectID ObjectID) (map[string]string, error) {
	b, err := c.BlobByObjectID(ctx, objectID)
	if err != nil {
		return nil, err
	}
	return b.Attributes, nil
}

// RemoveAttributes removes the attributes with the given keys from a blob object owned by the
// wallet (keys it does not have are ignored).
func (c *Client) RemoveAttributes(ctx context.Context, objectID ObjectID, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	return c.SetAttributes(ctx, objectID, nil, keys)
}

// RemoveAllAttributes removes every attribute of a blob object owned by the wallet.
func (c *Client) RemoveAllAttributes(ctx context.Context, objectID ObjectID) error {
	attrs, err := c.Attributes(ctx, objectID)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return c.RemoveAttributes(ctx, objectID, keys)
}

// BurnAddress owns burnt blob objects. It is the zero address: no account key has it, so
// nothing it owns can be extended, deleted, relabelled or transferred again.
var BurnAddress = Address{}

// ErrNotOwned: the wallet does not own the object.
var ErrNotOwned = errors.New("client: the wallet does not own the object")

// Burn gives up a blob object owned by the wallet, as Walrus's burn-blobs: the object goes to
// BurnAddress, so the blob stays stored and certified until its end epoch (its status does not
// change) while nobody can extend, delete or relabel it again, and its storage is not refunded.
func (c *Client) Burn(ctx context.Context, objectID ObjectID) error {
	_, err := c.execute(ctx, "burn blob", cpapi.Op{TransferObject: &cpapi.TransferObjectOp{ObjectID: cpapi.ObjectID(objectID), To: cpapi.Address(BurnAddress)}})
	switch {
	case errors.Is(err, cpclient.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrBlobNotFound, err)
	case errors.Is(err, cpclient.ErrNotOwner):
		return fmt.Errorf("%w: %w", ErrNotOwned, err)
	}
	return err
}

// ErrNotShared: the blob object is not a shared blob.
var ErrNotShared = errors.New("client: the blob object is not shared")

// Share turns a permanent blob object owned by the wallet into a shared blob object (Walrus's
// share), funded with amount of the wallet's tokens: from then on nobody owns it, anyone may
// fund it (FundShared) and extend it (Extend, paid from its funds), and it cannot be deleted.
// The shared blob keeps the object ID.
func (c *Client) Share(ctx context.Context, objectID ObjectID, amount uint64) error {
	_, err := c.execute(ctx, "share blob", cpapi.Op{ShareBlob: &cpapi.ShareBlobOp{BlobObjectID: cpapi.ObjectID(objectID), Amount: amount}})
	switch {
	case errors.Is(err, cpclient.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrBlobNotFound, err)
	case errors.Is(err, cpclient.ErrNotOwner):
		return fmt.Errorf("%w: %w", ErrNotOwned, err)
	}
	return err
}

// FundShared adds amount of the wallet's tokens to a shared blob's funds.
func (c *Client) FundShared(ctx context.Context, objectID ObjectID, amount uint64) error {
	_, err := c.execute(ctx, "fund shared blob", cpapi.Op{FundSharedBlob: &cpapi.FundSharedBlobOp{BlobObjectID: cpapi.ObjectID(objectID), Amount: amount}})
	switch {
	case errors.Is(err, cpclient.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrBlobNotFound, err)
	case errors.Is(err, cpclient.ErrNotShared):
		return fmt.Errorf("%w: %w", ErrNotShared, err)
	}
	return err
}
