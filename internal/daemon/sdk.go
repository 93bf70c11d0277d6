package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

// FromClient serves blobs through the client SDK.
func FromClient(c *client.Client) Blobs { return &sdkBlobs{c: c} }

// paramsTTL is how long the control plane's limits are cached between lookups.
const paramsTTL = time.Minute

var (
	_ FileBlobs    = (*sdkBlobs)(nil)
	_ FileBlobs    = (*multiBlobs)(nil)
	_ fileBlobIDer = (*sdkBlobs)(nil)
)

type sdkBlobs struct {
	c *client.Client

	mu        sync.Mutex
	maxEpochs uint32
	paramsAt  time.Time
	enc       *redstuff.Encoder
}

// sdkError wraps a client error with the daemon's sentinel for it.
func sdkError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, client.ErrBlobNotFound):
		return fmt.Errorf("%w: %w", ErrBlobNotFound, err)
	case errors.Is(err, client.ErrNotEnoughSlivers), errors.Is(err, client.ErrNoMetadata), errors.Is(err, client.ErrNoCommittee):
		return fmt.Errorf("%w: %w", ErrBlobUnavailable, err)
	case errors.Is(err, client.ErrNotEnoughConfirmations):
		return fmt.Errorf("%w: %w", ErrInsufficientConfirmations, err)
	case errors.Is(err, client.ErrBlobTooLarge):
		return fmt.Errorf("%w: %w", ErrBlobTooLarge, err)
	case errors.Is(err, client.ErrBlobInvalid):
		return fmt.Errorf("%w: %w", ErrBlobInvalid, err)
	case errors.Is(err, client.ErrInvalidRange):
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return err
}

func (s *sdkBlobs) Store(ctx context.Context, data []byte, p StoreParams) (*api.BlobStoreResult, error) {
	res, err := s.c.StoreBytes(ctx, data, storeOptions(p))
	return s.storeResult(ctx, res, err, p)
}

// StoreFile stores the size bytes of r: a blob larger than the client's SpillAbove is
// encoded from r into a temporary file of its slivers (client.StoreReaderAt), in bounded
// memory.
func (s *sdkBlobs) StoreFile(ctx context.Context, r io.ReaderAt, size int64, p StoreParams) (*api.BlobStoreResult, error) {
	res, err := s.c.StoreReaderAt(ctx, r, size, storeOptions(p))
	return s.storeResult(ctx, res, err, p)
}

// storeResult turns a client store's result into Walrus's, sharing the object if asked.
func (s *sdkBlobs) storeResult(ctx context.Context, res *client.StoreResult, err error, p StoreParams) (*api.BlobStoreResult, error) {
	if err != nil {
		if errors.Is(err, client.ErrBlobInvalid) {
			id := ""
			if res != nil {
				id = res.BlobID.String()
			}
			return &api.BlobStoreResult{MarkedInvalid: &api.MarkedInvalid{BlobID: id}}, nil
		}
		return nil, sdkError(err)
	}
	out := StoreResultJSON(res)
	if p.Share && out.NewlyCreated != nil {
		if err := s.c.Share(ctx, res.ObjectID, 0); err != nil {
			return nil, fmt.Errorf("blob object %s stored, but sharing it failed: %w", res.ObjectID, sdkError(err))
		}
		out.NewlyCreated.SharedBlobObject = res.ObjectID.String()
	}
	return out, nil
}

// storeOptions are the SDK's options for the publisher's parameters: without
// reuse_resources=true the store ignores what the wallet owns, as Walrus's publisher.
func storeOptions(p StoreParams) client.StoreOptions {
	return client.StoreOptions{Epochs: p.Epochs, Permanent: p.Permanent, Force: p.Force,
		SendObjectTo: (*client.Address)(p.SendObjectTo), IgnoreResources: !p.ReuseResources}
}

// StoreResultJSON is Walrus's BlobStoreResult for a client store result.
func StoreResultJSON(res *client.StoreResult) *api.BlobStoreResult {
	if res.AlreadyCertified {
		ac := &api.AlreadyCertified{BlobID: res.BlobID.String(), EndEpoch: res.EndEpoch}
		if res.Event != nil {
			ac.Event = &api.EventID{TxDigest: res.Event.TxDigest, EventSeq: res.Event.EventSeq}
		} else {
			ac.Object = res.ObjectID.String()
		}
		return &api.BlobStoreResult{AlreadyCertified: ac}
	}
	bo := api.BlobObject{ID: res.ObjectID.String(), BlobID: res.BlobID.String(), Size: res.Size, EncodingType: api.EncodingTypeRS2,
		Storage: api.StorageObject{EndEpoch: res.EndEpoch, StorageSize: res.EncodedLength}}
	if b := res.Blob; b != nil {
		bo.RegisteredEpoch, bo.Deletable = b.RegisteredEpoch, b.Deletable
		if b.Certified {
			ce := b.CertifiedEpoch
			bo.CertifiedEpoch = &ce
		}
		bo.Storage = api.StorageObject{ID: b.Storage.ID.String(), StartEpoch: b.Storage.Start, EndEpoch: b.Storage.End, StorageSize: b.Storage.Size}
	}
	var op api.ResourceOperation
	switch res.ResourceOperation {
	case client.ReuseStorage:
		op.ReuseStorage = &api.EncodedLength{EncodedLength: res.EncodedLength}
	case client.ReuseRegistration:
		op.ReuseRegistration = &api.EncodedLength{EncodedLength: res.EncodedLength}
	default:
		op.RegisterFromScratch = &api.RegisterFromScratch{EncodedLength: res.EncodedLength, EpochsAhead: res.EpochsAhead}
	}
	return &api.BlobStoreResult{NewlyCreated: &api.NewlyCreated{BlobObject: bo, ResourceOperation: op, Cost: res.Cost}}
}

func (s *sdkBlobs) BlobSize(ctx context.Context, id blob.ID) (uint64, error) {
	n, err := s.c.BlobSize(ctx, id)
	return n, sdkError(err)
}

func (s *sdkBlobs) Read(ctx context.Context, id blob.ID, w io.Writer, p ReadParams) (int64, error) {
	n, err := s.c.Read(ctx, id, w, readOptions(p))
	return n, sdkError(err)
}

func (s *sdkBlobs) ReadRange(ctx context.Context, id blob.ID, offset, length uint64, w io.Writer, p ReadParams) error {
	return sdkError(s.c.ReadRange(ctx, id, offset, length, w, readOptions(p)))
}

// readOptions are the SDK's options for the checks of p.
func readOptions(p ReadParams) client.ReadOptions {
	switch {
	case p.Strict:
		return client.ReadOptions{Consistency: client.ConsistencyStrict}
	case p.Skip:
		return client.ReadOptions{Consistency: client.ConsistencySkip}
	}
	return client.ReadOptions{Consistency: client.ConsistencyDefault}
}

func (s *sdkBlobs) Object(ctx context.Context, id protocol.ObjectID) (*Object, error) {
	b, err := s.c.BlobByObjectID(ctx, client.ObjectID(id))
	if err != nil {
		return nil, sdkError(err)
	}
	return &Object{BlobID: b.BlobID, Attributes: b.Attributes}, nil
}

// MaxEpochsAhead returns the control plane's max_epochs_ahead, looked up at most once per
// paramsTTL (the SDK's Info is the public way to it). The lookup runs outside the lock, so a
// slow control plane delays only the requests that need it, each within its own context.
func (s *sdkBlobs) MaxEpochsAhead(ctx context.Context) (uint32, error) {
	s.mu.Lock()
	maxEpochs, at := s.maxEpochs, s.paramsAt
	s.mu.Unlock()
	if maxEpochs != 0 && time.Since(at) < paramsTTL {
		return maxEpochs, nil
	}
	in, err := s.c.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("%w: the control plane's limits: %w", ErrBlobUnavailable, err)
	}
	s.mu.Lock()
	s.maxEpochs, s.paramsAt = in.Params.MaxEpochsAhead, time.Now()
	s.mu.Unlock()
	return in.Params.MaxEpochsAhead, nil
}

// encoder returns an encoder for the network's number of shards.
func (s *sdkBlobs) encoder(ctx context.Context) (*redstuff.Encoder, error) {
	s.mu.Lock()
	enc := s.enc
	s.mu.Unlock()
	if enc != nil {
		return enc, nil
	}
	in, err := s.c.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: the number of shards: %w", ErrBlobUnavailable, err)
	}
	if enc, err = redstuff.New(in.Params.NShards); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.enc = enc
	s.mu.Unlock()
	return enc, nil
}

// BlobIDOf computes the blob ID of data for the network's number of shards (the blocklist's
// check of a store).
func (s *sdkBlobs) BlobIDOf(ctx context.Context, data []byte) (blob.ID, error) {
	enc, err := s.encoder(ctx)
	if err != nil {
		return blob.ID{}, err
	}
	c, err := enc.Commit(data)
	return commitID(c, err)
}

// BlobIDOfFile is BlobIDOf for the size bytes of r, read as the encoder needs them.
func (s *sdkBlobs) BlobIDOfFile(ctx context.Context, r io.ReaderAt, size int64) (blob.ID, error) {
	enc, err := s.encoder(ctx)
	if err != nil {
		return blob.ID{}, err
	}
	c, err := enc.CommitReaderAt(r, size)
	return commitID(c, err)
}

func commitID(c *redstuff.Commitment, err error) (blob.ID, error) {
	if errors.Is(err, redstuff.ErrDataTooLarge) {
		return blob.ID{}, fmt.Errorf("%w: %w", ErrBlobTooLarge, err)
	}
	if err != nil {
		return blob.ID{}, err
	}
	return blob.DeriveID(blob.RS2, c.Length, c.Root), nil
}
