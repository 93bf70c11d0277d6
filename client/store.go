package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	cpapi "github.com/floelabs/floe/api/controlplane"
	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/fanout"
	"github.com/floelabs/floe/internal/nodeclient"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

// StoreOptions are the options of a store.
type StoreOptions struct {
	// Epochs is how many epochs, from the current one, the blob is stored for (default 1).
	Epochs uint32
	// Permanent stores a permanent blob; the default is deletable (as Walrus since v1.33).
	Permanent bool
	// SendObjectTo, if set, receives the blob object after certification.
	SendObjectTo *Address
	// Force stores and certifies a new blob object even if the blob is already certified
	// long enough.
	Force bool
	// Progress, if set, is called (from one goroutine at a time) as sliver bytes are uploaded.
	Progress func(done, total int64)
	// Phase, if set, is called as the store enters each phase (PhaseEncoding, PhaseUploading,
	// PhaseCertifying), from the goroutine that called the store. A store that finds the blob
	// already certified reports only PhaseEncoding.
	Phase func(StorePhase)
	// IgnoreResources buys new storage and registers the blob anew even if the wallet owns a
	// registered, uncertified object of this blob or a storage resource that would do. The
	// default reuses them, in that order, before buying (spec §11.3; Walrus's
	// reuse_resources=true, the opposite of its --ignore-resources).
	IgnoreResources bool
}

// StorePhase is a stage of a store, reported to StoreOptions.Phase.
type StorePhase string

// Store phases, in order. A committee change during the store may repeat uploading.
const (
	// PhaseEncoding: the blob is being encoded into slivers and its blob ID computed.
	PhaseEncoding StorePhase = "encoding"
	// PhaseUploading: the slivers are being sent to the nodes (StoreOptions.Progress follows).
	PhaseUploading StorePhase = "uploading"
	// PhaseCertifying: the confirmations are in; the certificate is being submitted.
	PhaseCertifying StorePhase = "certifying"
)

func (o *StoreOptions) phase(p StorePhase) {
	if o.Phase != nil {
		o.Phase(p)
	}
}

// ResourceOperation says how a store obtained its storage (Walrus's resourceOperation).
type ResourceOperation string

// Resource operations.
const (
	// RegisterFromScratch: storage was bought and the blob registered in one transaction.
	RegisterFromScratch ResourceOperation = "registerFromScratch"
	// ReuseStorage: an owned storage resource was used for a new registration.
	ReuseStorage ResourceOperation = "reuseStorage"
	// ReuseRegistration: an owned, registered but uncertified blob object was certified.
	ReuseRegistration ResourceOperation = "reuseRegistration"
)

// EventID identifies a control-plane event as storage nodes report it: the base58 digest of
// the transaction and the event's sequence number.
type EventID = api.EventID

// StoreResult is the outcome of a store.
type StoreResult struct {
	BlobID blob.ID
	// ObjectID is the blob object: the one created or reused (newly created), or the owned or
	// permanent object that certifies the blob (already certified).
	ObjectID ObjectID
	// EndEpoch is the first epoch in which the blob is no longer stored (exclusive).
	EndEpoch uint32
	// Cost is what the store paid (storage and write fee), in the control plane's base unit.
	Cost uint64
	// Size and EncodedLength are the unencoded and the charged encoded length.
	Size          uint64
	EncodedLength uint64
	// NewlyCreated is set when this store certified the blob; AlreadyCertified when it found
	// the blob certified long enough and did nothing.
	NewlyCreated     bool
	AlreadyCertified bool
	// ResourceOperation and EpochsAhead say how storage was obtained (newly created only).
	ResourceOperation ResourceOperation
	EpochsAhead       uint32
	// Blob is the blob object as the control plane reports it (nil if it could not be read).
	Blob *Blob
	// Event is, for an already certified permanent blob, the event that certified it, as
	// storage nodes holding at least f+1 shards report it (nil if they do not agree).
	Event *EventID
	// Confirmations is the shard weight of the confirmations in the certificate.
	Confirmations int
}

// Store reads the blob from r and stores it (see StoreBytes). A blob larger than
// Config.SpillAbove is stored in bounded memory (see StoreReaderAt): a regular file is
// encoded from where it is, any other reader is first copied to a temporary file.
func (c *Client) Store(ctx context.Context, r io.Reader, opts StoreOptions) (*StoreResult, error) {
	v, err := c.committee(ctx, false)
	if err != nil {
		return nil, err
	}
	max := v.params.MaxBlobSize()
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			if off, err := f.Seek(0, io.SeekCurrent); err == nil && c.spills(uint64(st.Size()-off)) {
				return c.StoreReaderAt(ctx, io.NewSectionReader(f, off, st.Size()-off), st.Size()-off, opts)
			}
		}
	}
	limit := int64(min(max, 1<<62))
	var head []byte
	if c.spills(max) {
		// Read up to the spill bound into memory; past it, spill.
		bound := c.cfg.SpillAbove
		if bound == 0 {
			bound = DefaultSpillAbove
		}
		if head, err = io.ReadAll(io.LimitReader(r, bound+1)); err != nil {
			return nil, fmt.Errorf("client: reading the blob: %w", err)
		}
		if int64(len(head)) > bound {
			return c.storeSpilledReader(ctx, head, r, limit, opts)
		}
	} else if head, err = io.ReadAll(io.LimitReader(r, limit+1)); err != nil {
		return nil, fmt.Errorf("client: reading the blob: %w", err)
	}
	if uint64(len(head)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBlobTooLarge, max)
	}
	return c.StoreBytes(ctx, head, opts)
}

// storeSpilledReader copies head and the rest of r (at most limit bytes in all) to a
// temporary file and stores it from there.
func (c *Client) storeSpilledReader(ctx context.Context, head []byte, r io.Reader, limit int64, opts StoreOptions) (*StoreResult, error) {
	f, err := c.tempFile("floe-blob-*")
	if err != nil {
		return nil, err
	}
	defer removeTemp(f)
	if _, err := f.Write(head); err != nil {
		return nil, fmt.Errorf("client: spilling the blob: %w", err)
	}
	k, err := io.Copy(f, io.LimitReader(r, limit+1-int64(len(head))))
	if err != nil {
		return nil, fmt.Errorf("client: reading the blob: %w", err)
	}
	size := int64(len(head)) + k
	if size > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBlobTooLarge, limit)
	}
	return c.StoreReaderAt(ctx, f, size, opts)
}

// StoreReaderAt stores the size bytes of r (a file, say), which must not change during the
// call. A blob larger than Config.SpillAbove is encoded from r as it is read
// (redstuff.EncodeAt) into a temporary file of all its slivers (about 4.5 times its size) in
// Config.TempDir, from which they are uploaded: the client's memory stays bounded whatever
// the blob's size. A smaller one is read into memory (see StoreBytes).
func (c *Client) StoreReaderAt(ctx context.Context, r io.ReaderAt, size int64, opts StoreOptions) (*StoreResult, error) {
	if size < 0 {
		return nil, fmt.Errorf("%w: negative size %d", ErrInvalidConfig, size)
	}
	if !c.spills(uint64(size)) {
		data := make([]byte, size)
		if k, err := r.ReadAt(data, 0); k < len(data) {
			return nil, fmt.Errorf("client: reading the blob: %d of %d bytes: %w", k, size, err)
		}
		return c.StoreBytes(ctx, data, opts)
	}
	return c.store(ctx, uint64(size), opts, func(v *committeeView) (*encodedBlob, error) {
		f, err := c.tempFile("floe-slivers-*")
		if err != nil {
			return nil, err
		}
		cm, err := v.enc.EncodeAt(r, size, f)
		if err != nil {
			removeTemp(f)
			return nil, err
		}
		return &encodedBlob{Commitment: *cm, params: v.params, file: f}, nil
	})
}

// StoreBytes stores data as a blob (spec §11.3): it encodes it; unless opts.Force, returns at
// once if the blob is already certified until at least the requested end epoch; reuses an
// owned registration or storage resource or buys storage; uploads the sliver pairs to every
// node of the committee; collects verified confirmations covering n-f shards; certifies the
// blob with their aggregate; and transfers the object to opts.SendObjectTo if set.
func (c *Client) StoreBytes(ctx context.Context, data []byte, opts StoreOptions) (*StoreResult, error) {
	return c.store(ctx, uint64(len(data)), opts, func(v *committeeView) (*encodedBlob, error) {
		var mem []byte
		if need, err := v.enc.EncodeMemory(uint64(len(data))); err == nil {
			if mem = c.sliverMem.take(need); mem == nil {
				mem = c.sliverMem.alloc(need)
			}
		}
		e, err := v.enc.EncodeInto(data, mem)
		if err != nil {
			c.sliverMem.give(mem)
			return nil, err
		}
		return &encodedBlob{Commitment: e.Commitment, params: v.params, mem: e, reuse: &c.sliverMem, guard: &memGuard{}}, nil
	})
}

// store stores a blob of size bytes that encode encodes (see StoreBytes).
func (c *Client) store(ctx context.Context, size uint64, opts StoreOptions, encode func(*committeeView) (*encodedBlob, error)) (*StoreResult, error) {
	if c.cfg.Wallet == nil {
		return nil, ErrNoWallet
	}
	if opts.Epochs == 0 {
		opts.Epochs = 1
	}
	v, err := c.committee(ctx, false)
	if err != nil {
		return nil, err
	}
	// Everything that can be checked before encoding is: a store that must fail fails before
	// any node is sent anything.
	if size > v.params.MaxBlobSize() {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrBlobTooLarge, size, v.params.MaxBlobSize())
	}
	if opts.Epochs > c.maxEpochsAhead {
		return nil, fmt.Errorf("%w: %d epochs ahead, at most %d", ErrInvalidEpochs, opts.Epochs, c.maxEpochsAhead)
	}
	if opts.Force {
		// Without the already-certified shortcut only a registration of this very blob (which
		// the blob ID must name) could make the store cheaper than buying or reusing storage.
		if err := c.checkBalance(ctx, v, size, opts); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	opts.phase(PhaseEncoding)
	e, err := encode(v)
	if errors.Is(err, redstuff.ErrDataTooLarge) {
		return nil, fmt.Errorf("%w: %w", ErrBlobTooLarge, err)
	}
	if err != nil {
		return nil, fmt.Errorf("client: encoding: %w", err)
	}
	defer e.close()
	md := blob.NewMetadata(&e.Commitment)
	encoded, err := v.params.EncodedLength(e.Length)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	log := c.log.With("blob", md.ID, "size", size)
	log.Debug("encoded", "took", time.Since(start), "spilled", e.file != nil)

	res := &StoreResult{BlobID: md.ID, Size: e.Length, EncodedLength: encoded}
	owner := cpapi.Address(c.cfg.Wallet.Address())
	// The epoch the blob is stored until: a store that starts again under a later committee
	// keeps it (and so can certify the registration it already paid for).
	endEpoch := v.c.Epoch + opts.Epochs
	for attempt := 0; ; attempt++ {
		epoch := v.c.Epoch
		wantEnd := epoch + opts.Epochs
		wowned, err := c.cp.Owned(ctx, owner)
		if err != nil {
			return nil, fmt.Errorf("client: owned objects: %w", err)
		}
		owned := ownedFromAPI(wowned)
		if !opts.Force {
			done, err := c.alreadyCertified(ctx, v, md.ID, wantEnd, opts.Permanent, owned, res)
			if err != nil {
				return nil, err
			}
			if done {
				log.Info("already certified", "object", res.ObjectID, "end_epoch", res.EndEpoch)
				return res, nil
			}
		}
		err = c.storeOnce(ctx, v, e, md, opts, owned, res)
		if err == nil {
			break
		}
		// A committee change during the store invalidates the confirmations: refresh and retry.
		if attempt < 3 && (errors.Is(err, errCommitteeMoved) || errors.Is(err, cpclient.ErrWrongEpoch) ||
			errors.Is(err, ErrNotEnoughConfirmations) || errors.Is(err, cpclient.ErrStorageEpochs)) {
			nv, rerr := c.committee(ctx, true)
			if rerr == nil && nv.c.Epoch != v.c.Epoch {
				log.Info("committee changed during the store; retrying", "from", v.c.Epoch, "to", nv.c.Epoch)
				if nv.c.NShards != v.c.NShards {
					return nil, fmt.Errorf("client: the number of shards changed: %w", err)
				}
				v = nv
				opts.Epochs = 1 // at least the epoch it is certified in
				if endEpoch > v.c.Epoch {
					opts.Epochs = endEpoch - v.c.Epoch
				}
				continue
			}
		}
		return nil, err
	}
	if opts.SendObjectTo != nil {
		if _, err := c.execute(ctx, "transfer", cpapi.Op{TransferObject: &cpapi.TransferObjectOp{ObjectID: cpapi.ObjectID(res.ObjectID), To: cpapi.Address(*opts.SendObjectTo)}}); err != nil {
			return res, fmt.Errorf("client: blob %s certified as object %s, but the transfer failed: %w", md.ID, res.ObjectID, err)
		}
	}
	if ob, err := c.cp.Object(ctx, cpapi.ObjectID(res.ObjectID)); err == nil && ob.Blob != nil {
		res.Blob = blobFromAPI(ob.Blob)
		res.EndEpoch = ob.Blob.Storage.End
	}
	log.Info("stored", "object", res.ObjectID, "end_epoch", res.EndEpoch, "cost", res.Cost, "took", time.Since(start))
	return res, nil
}

// alreadyCertified fills res and returns true if the blob is certified until at least
// wantEnd: by an owned object of the requested persistence, or by a permanent object.
func (c *Client) alreadyCertified(ctx context.Context, v *committeeView, id blob.ID, wantEnd uint32, permanent bool,
	owned *ownedObjects, res *StoreResult) (bool, error) {
	for i := range owned.Blobs {
		b := &owned.Blobs[i]
		if b.BlobID == id && b.Certified && b.Deletable == !permanent && b.Storage.End >= wantEnd && b.Storage.End > v.c.Epoch {
			res.AlreadyCertified, res.ObjectID, res.EndEpoch, res.Blob = true, b.ID, b.Storage.End, b
			return true, nil
		}
	}
	st, err := c.cp.BlobStatus(ctx, id)
	if err != nil {
		return false, fmt.Errorf("client: blob status: %w", err)
	}
	if st.Status == cpapi.StatusInvalid {
		return false, fmt.Errorf("%w: %s", ErrBlobInvalid, id)
	}
	if st.Status != cpapi.StatusPermanent || !st.IsCertified || st.EndEpoch < wantEnd {
		return false, nil
	}
	res.AlreadyCertified, res.ObjectID, res.EndEpoch = true, ObjectID(st.ObjectID), st.EndEpoch
	if ob, err := c.cp.Object(ctx, st.ObjectID); err == nil && ob.Blob != nil {
		res.Blob = blobFromAPI(ob.Blob)
	}
	if ns, err := c.nodeStatus(ctx, v, id); err == nil && ns.Permanent != nil && ns.Permanent.IsCertified {
		ev := ns.Permanent.StatusEvent
		res.Event = &ev
	}
	return true, nil
}

// storeOnce obtains a registration, uploads, collects confirmations and certifies.
func (c *Client) storeOnce(ctx context.Context, v *committeeView, e *encodedBlob, md *blob.MetadataWithID,
	opts StoreOptions, owned *ownedObjects, res *StoreResult) error {
	epoch := v.c.Epoch
	wantEnd := epoch + opts.Epochs
	units := (res.EncodedLength + mib - 1) / mib
	writeFee := v.c.WritePrice * units

	// Resource selection: an owned registration of this blob, else owned storage, else buy.
	var reg *Blob
	for i := range owned.Blobs {
		if opts.IgnoreResources {
			break
		}
		b := &owned.Blobs[i]
		if b.BlobID == md.ID && !b.Certified && b.Deletable == !opts.Permanent &&
			b.Storage.Start <= epoch && b.Storage.End >= wantEnd {
			if reg == nil || b.Storage.End < reg.Storage.End {
				reg = b
			}
		}
	}
	var storage *Storage
	if reg == nil && !opts.IgnoreResources {
		for i := range owned.Storage {
			s := &owned.Storage[i]
			if s.Size >= res.EncodedLength && s.Start <= epoch && s.End >= wantEnd &&
				(storage == nil || s.Size < storage.Size || (s.Size == storage.Size && s.End < storage.End)) {
				storage = s
			}
		}
	}

	// Fail before uploading anything if the wallet cannot pay.
	cost := uint64(0)
	switch {
	case reg != nil:
	case storage != nil:
		cost = writeFee
	default:
		cost = writeFee + v.c.StoragePrice*units*uint64(opts.Epochs)
	}
	if err := c.requireBalance(ctx, cost); err != nil {
		return err
	}

	r := newRegistration(!opts.Permanent)
	register := func(ctx context.Context) {
		if reg != nil {
			res.ResourceOperation, res.Cost = ReuseRegistration, 0
			r.resolve(reg.ID, nil)
			return
		}
		op := &cpapi.RegisterBlobOp{BlobID: md.ID, RootHash: cpapi.Hash(e.Root), Size: e.Length,
			EncodingType: uint8(blob.RS2), Deletable: !opts.Permanent}
		if storage != nil {
			op.StorageID = cpapi.ObjectID(storage.ID)
			res.ResourceOperation, res.Cost = ReuseStorage, writeFee
		} else {
			op.EpochsAhead = opts.Epochs
			res.ResourceOperation, res.EpochsAhead = RegisterFromScratch, opts.Epochs
			res.Cost = writeFee + v.c.StoragePrice*units*uint64(opts.Epochs)
		}
		regStart := time.Now()
		inc, err := c.execute(ctx, "register blob", cpapi.Op{RegisterBlob: op})
		c.log.Debug("registration executed", "blob", md.ID, "took", time.Since(regStart))
		if err != nil {
			r.resolve(ObjectID{}, err)
			return
		}
		for _, ev := range inc.Events {
			if ev.Type == cpapi.EventBlobRegistered && ev.BlobID == md.ID {
				r.resolve(ObjectID(ev.ObjectID), nil)
				return
			}
		}
		r.resolve(ObjectID{}, fmt.Errorf("client: register blob: no BlobRegistered event in the outcome"))
	}
	optimistic := c.comm.OptimisticUploadMaxBytes >= 0 && int64(e.Length) <= c.comm.OptimisticUploadMaxBytes
	if optimistic {
		go register(ctx)
	} else {
		register(ctx)
	}
	if !optimistic {
		if _, err := r.wait(ctx); err != nil {
			return err
		}
	}

	upStart := time.Now()
	opts.phase(PhaseUploading)
	cert, weight, err := c.upload(ctx, v, e, md, opts, r)
	c.log.Debug("upload and confirmations done", "blob", md.ID, "took", time.Since(upStart), "err", err)
	objID, rerr := r.wait(ctx)
	if rerr != nil {
		return rerr
	}
	if err != nil {
		return err
	}
	res.ObjectID, res.Confirmations = objID, weight
	opts.phase(PhaseCertifying)
	certStart := time.Now()
	if _, err := c.execute(ctx, "certify blob", cpapi.Op{CertifyBlob: &cpapi.CertifyBlobOp{BlobObjectID: cpapi.ObjectID(objID),
		Certificate: cpapi.Certificate{Signers: cert.Signers, Message: cert.Message, Signature: cpapi.BLSSignature(cert.Signature)}}}); err != nil {
		return err
	}
	c.log.Debug("certification executed", "blob", md.ID, "took", time.Since(certStart))
	res.NewlyCreated = true
	res.EndEpoch = wantEnd
	if reg != nil {
		res.EndEpoch = reg.Storage.End
	} else if storage != nil {
		res.EndEpoch = storage.End
	}
	return nil
}

// checkBalance fails with ErrInsufficientBalance if the wallet cannot pay for storing size
// bytes as opts asks, whatever the blob (owned storage that fits is reused unless
// opts.IgnoreResources; an owned uncertified registration of the same size might be of this
// blob, so with one the check waits for the blob ID).
func (c *Client) checkBalance(ctx context.Context, v *committeeView, size uint64, opts StoreOptions) error {
	encoded, err := v.params.EncodedLength(size)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBlobTooLarge, err)
	}
	units := (encoded + mib - 1) / mib
	cost := v.c.WritePrice*units + v.c.StoragePrice*units*uint64(opts.Epochs)
	if !opts.IgnoreResources {
		wowned, err := c.cp.Owned(ctx, cpapi.Address(c.cfg.Wallet.Address()))
		if err != nil {
			return fmt.Errorf("client: owned objects: %w", err)
		}
		owned := ownedFromAPI(wowned)
		wantEnd := v.c.Epoch + opts.Epochs
		for _, b := range owned.Blobs {
			if !b.Certified && b.Size == size && b.Deletable == !opts.Permanent && b.Storage.Start <= v.c.Epoch && b.Storage.End >= wantEnd {
				return nil
			}
		}
		for _, s := range owned.Storage {
			if s.Size >= encoded && s.Start <= v.c.Epoch && s.End >= wantEnd {
				cost = v.c.WritePrice * units
				break
			}
		}
	}
	return c.requireBalance(ctx, cost)
}

// requireBalance fails with ErrInsufficientBalance if the wallet holds less than cost.
func (c *Client) requireBalance(ctx context.Context, cost uint64) error {
	if cost == 0 {
		return nil
	}
	a, err := c.cp.Account(ctx, cpapi.Address(c.cfg.Wallet.Address()))
	var balance uint64
	switch {
	case errors.Is(err, cpclient.ErrNotFound):
	case err != nil:
		return fmt.Errorf("client: account: %w", err)
	default:
		balance = a.Balance
	}
	if balance < cost {
		return fmt.Errorf("%w: the store costs %d, the wallet holds %d", ErrInsufficientBalance, cost, balance)
	}
	return nil
}

// registration is the outcome of the registration transaction, which may run concurrently
// with the upload.
type registration struct {
	deletable bool
	done      chan struct{}
	obj       ObjectID
	err       error
}

func newRegistration(deletable bool) *registration {
	return &registration{deletable: deletable, done: make(chan struct{})}
}

func (r *registration) resolve(obj ObjectID, err error) {
	r.obj, r.err = obj, err
	close(r.done)
}

// failed returns the registration's error if it is resolved, else nil.
func (r *registration) failed() error {
	select {
	case <-r.done:
		return r.err
	default:
		return nil
	}
}

func (r *registration) wait(ctx context.Context) (ObjectID, error) {
	select {
	case <-r.done:
		return r.obj, r.err
	case <-ctx.Done():
		return ObjectID{}, ctx.Err()
	}
}

// execute signs and submits one transaction of the wallet and waits for its outcome.
func (c *Client) execute(ctx context.Context, what string, op cpapi.Op) (*cpapi.Included, error) {
	if c.cfg.Wallet == nil {
		return nil, ErrNoWallet
	}
	c.txMu.Lock()
	defer c.txMu.Unlock()
	inc, err := c.cp.Execute(ctx, c.chainID, c.cfg.Wallet, op)
	if err != nil {
		return inc, fmt.Errorf("client: %s: %w", what, err)
	}
	return inc, nil
}

// ---- upload and confirmations ----

// confirmation is a member's verified storage confirmation.
type confirmation struct {
	msg []byte
	sig crypto.BLSSignature
}

// upload sends every member its slivers and collects verified confirmations until they cover
// n-f shards, then waits a short tail for stragglers (one fan-out job: a task per member,
// weighted by its shards); it returns their aggregate certificate.
func (c *Client) upload(ctx context.Context, v *committeeView, e *encodedBlob, md *blob.MetadataWithID,
	opts StoreOptions, r *registration) (*protocol.Certificate, int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	mdBytes, err := md.Metadata.MarshalBCS()
	if err != nil {
		return nil, 0, fmt.Errorf("client: metadata: %w", err)
	}
	n := v.c.NShards
	pairSize := e.sliverDataSize(redstuff.Primary) + e.sliverDataSize(redstuff.Secondary)
	prog := &progress{f: opts.Progress, total: pairSize * int64(n)}
	prog.add(0)

	// Abandon the upload as soon as the registration fails.
	go func() {
		select {
		case <-r.done:
			if r.failed() != nil {
				cancel()
			}
		case <-ctx.Done():
		}
	}()

	quorum := v.params.Quorum()
	tasks := make([]fanout.Task, len(v.nodes))
	for i := range v.nodes {
		tasks[i] = fanout.Task{Node: i, Key: i, Weight: v.weights[i]}
	}
	job := fanout.Start(ctx, fanout.Config{Nodes: len(v.nodes), Limit: c.comm.MaxConcurrentWrites, Need: quorum,
		Tail: func(elapsed time.Duration) time.Duration {
			wait := time.Duration(c.comm.TailFactor*float64(elapsed)) + c.comm.TailBase
			c.log.Debug("quorum of confirmations; waiting for stragglers", "blob", md.ID, "elapsed", elapsed, "tail", wait)
			return wait
		}},
		tasks, func(ctx context.Context, i int, _ []fanout.Task) (confirmation, error) {
			node := v.nodes[i]
			if node == nil {
				return confirmation{}, fmt.Errorf("member %s: no usable connection", v.c.Members[i].Name)
			}
			pairs := make([]int, 0, len(v.c.Members[i].Shards))
			for _, s := range v.c.Members[i].Shards {
				pairs = append(pairs, blob.PairIndex(md.ID, n, int(s)))
			}
			slices.Sort(pairs)
			return c.storeOnNode(ctx, v, node, v.c.Members[i].NodeID, e, md, mdBytes, pairs, r, prog)
		})
	defer job.Stop()

	var (
		signers []int
		sigs    []crypto.BLSSignature
		msg     []byte
		errs    []error
	)
	var jerr error
	for res := range job.Results(&jerr) {
		i := res.Node
		if res.Err != nil {
			if errors.Is(res.Err, errCommitteeMoved) {
				// Confirmations of v's epoch can no longer certify: stop the other uploads.
				return nil, 0, res.Err
			}
			if ctx.Err() == nil {
				c.log.Warn("storing on node failed", "node", v.c.Members[i].Name, "blob", md.ID, "err", res.Err)
			}
			errs = append(errs, res.Err)
			continue
		}
		if msg == nil {
			msg = res.Value.msg
		}
		if !bytes.Equal(msg, res.Value.msg) { // cannot happen: each was checked against the same message
			errs = append(errs, fmt.Errorf("member %d: confirmation differs", i))
			continue
		}
		signers = append(signers, i)
		sigs = append(sigs, res.Value.sig)
		job.Add(v.weights[i])
	}
	if jerr != nil {
		if rerr := r.failed(); rerr != nil {
			return nil, 0, rerr
		}
		return nil, 0, jerr
	}
	job.Stop()
	weight := job.Progress()
	if weight < quorum {
		if rerr := r.failed(); rerr != nil {
			return nil, 0, rerr
		}
		return nil, weight, fmt.Errorf("%w: %d of %d shards confirmed, %d needed: %w", ErrNotEnoughConfirmations, weight, n, quorum, errors.Join(errs...))
	}
	prog.finish()
	slices.Sort(signers)
	agg, err := crypto.AggregateSignatures(sigs)
	if err != nil {
		return nil, 0, fmt.Errorf("client: aggregating confirmations: %w", err)
	}
	bm, err := protocol.Bitmap(len(v.c.Members), signers)
	if err != nil {
		return nil, 0, fmt.Errorf("client: signer bitmap: %w", err)
	}
	return &protocol.Certificate{Signers: bm, Message: msg, Signature: agg}, weight, nil
}

// progress reports uploaded bytes.
type progress struct {
	mu    sync.Mutex
	f     func(done, total int64)
	done  int64
	total int64
}

func (p *progress) add(n int64) {
	if p.f == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = min(p.done+n, p.total)
	p.f(p.done, p.total)
}

// finish reports the upload complete: the stragglers left behind after the tail no longer count.
func (p *progress) finish() {
	if p.f == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done < p.total {
		p.done = p.total
		p.f(p.done, p.total)
	}
}

// storeOnNode uploads a node's slivers and returns its verified confirmation. A node that
// reports missing slivers gets them again. Pairs the node acknowledged in an earlier attempt
// of the store (under an earlier committee, see encodedBlob.delivered) are not sent again
// unless it reports them missing. A node that answers as of another epoch than v's (a sliver
// of a shard it does not own in its epoch, a confirmation for its epoch) makes the client
// refresh its committee: if the committee moved on, the store starts again with the new one
// (errCommitteeMoved); else the node has not followed the epoch change yet and is tried again
// after a backoff.
func (c *Client) storeOnNode(ctx context.Context, v *committeeView, node *nodeclient.Client, member ObjectID, e *encodedBlob,
	md *blob.MetadataWithID, mdBytes []byte, pairs []int, r *registration, prog *progress) (confirmation, error) {
	// Confirmations are asked again while the node has not seen the registration yet.
	policy := c.retryPolicy()
	policy.Retryable = func(err error) bool {
		return nodeclient.IsRetryable(err) || errors.Is(err, nodeclient.ErrNotRegistered)
	}
	send := e.delivered.missing(member, pairs)
	behind := 0 // times the node was found behind the control plane's epoch
	for attempt := 0; ; attempt++ {
		if len(send) > 0 {
			if err := c.uploadToNode(ctx, node, e, md, mdBytes, send, prog, attempt > 0); err != nil {
				switch {
				case (errors.Is(err, nodeclient.ErrMetadataNotFound) || errors.Is(err, nodeclient.ErrNotRegistered)) && attempt < 3:
					// A node that saw the registration in the middle of a pending upload may
					// have moved the buffered metadata to its store under the request's feet:
					// send it all again, now as a registered blob.
					node.Logger().Debug("upload raced the registration; uploading again", "blob", md.ID, "err", err)
					send = pairs
					continue
				case errors.Is(err, nodeclient.ErrShardNotAssigned):
					if err := c.otherEpoch(ctx, v, node, md, err, &behind); err != nil {
						return confirmation{}, err
					}
					continue
				}
				return confirmation{}, err
			}
			e.delivered.add(member, send)
		}
		obj, err := r.wait(ctx)
		if err != nil {
			return confirmation{}, err
		}
		pt := protocol.Permanent
		if r.deletable {
			pt = protocol.Deletable(protocol.ObjectID(obj))
		}
		var conf confirmation
		err = policy.Do(ctx, func() error {
			var err error
			conf.msg, conf.sig, err = node.Confirmation(ctx, md.ID, pt, v.c.Epoch, c.comm.ConfirmationWait)
			return err
		})
		switch {
		case errors.Is(err, nodeclient.ErrMissingSlivers) && attempt < 3:
			// A node that gained shards at an epoch change misses their slivers: the store
			// must start again with the new committee. Else send it all again.
			if merr := c.committeeMoved(ctx, v, err); merr != nil {
				return confirmation{}, merr
			}
			node.Logger().Debug("node misses slivers; uploading again", "blob", md.ID, "err", err)
			send = pairs
			continue
		case errors.Is(err, nodeclient.ErrOtherEpoch):
			if err := c.otherEpoch(ctx, v, node, md, err, &behind); err != nil {
				return confirmation{}, err
			}
			send = nil // what it was sent is stored; a confirmation tells what it misses
			continue
		case err != nil && errors.Is(err, ErrBadNode):
			node.Logger().Warn("node sent an invalid confirmation; ignored", "blob", md.ID, "err", err)
		}
		return conf, err
	}
}

// errCommitteeMoved: the committee moved to a later epoch during a store; its confirmations
// must come from the new committee.
var errCommitteeMoved = errors.New("client: the committee moved to a later epoch during the store")

// committeeMoved returns errCommitteeMoved (wrapping cause) if the control plane's committee,
// fetched after cause was received (nodes follow the control plane, so it is at least at the
// epoch of the node that answered), is of a later epoch than v's; else nil. A failure to
// fetch it is returned wrapping cause.
func (c *Client) committeeMoved(ctx context.Context, v *committeeView, cause error) error {
	nv, err := c.committeeSince(ctx, time.Now())
	if err != nil {
		return fmt.Errorf("%w (refreshing the committee: %w)", cause, err)
	}
	if nv.c.Epoch > v.c.Epoch {
		return fmt.Errorf("%w: from %d to %d: %w", errCommitteeMoved, v.c.Epoch, nv.c.Epoch, cause)
	}
	return nil
}

// otherEpoch handles a node that has just answered a store of committee v as of another epoch
// (cause): errCommitteeMoved if the committee moved on (see committeeMoved); else the node
// has not followed the epoch change to v's epoch yet (it learns it from the control plane's
// events within seconds): it waits a backoff and returns nil to try the node again, at most
// MaxRetries times (counted in behind), then cause.
func (c *Client) otherEpoch(ctx context.Context, v *committeeView, node *nodeclient.Client, md *blob.MetadataWithID, cause error,
	behind *int) error {
	if err := c.committeeMoved(ctx, v, cause); err != nil {
		return err
	}
	if *behind >= c.comm.MaxRetries {
		return cause
	}
	*behind++
	wait := min(c.comm.MinBackoff<<(*behind-1), c.comm.MaxBackoff)
	node.Logger().Debug("node has not followed the epoch change yet; trying it again", "blob", md.ID, "epoch", v.c.Epoch, "wait", wait, "err", cause)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// deliveries records, for the attempts of one store, which sliver pairs each node
// acknowledged, so that a store that starts again under a new committee sends a node only
// the pairs of the shards it gained.
type deliveries struct {
	mu    sync.Mutex
	pairs map[ObjectID]map[int]bool
}

// missing returns the pairs not delivered to node yet (all of them if none was).
func (d *deliveries) missing(node ObjectID, pairs []int) []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	have := d.pairs[node]
	if len(have) == 0 {
		return pairs
	}
	var out []int
	for _, p := range pairs {
		if !have[p] {
			out = append(out, p)
		}
	}
	return out
}

// add records pairs as delivered to node.
func (d *deliveries) add(node ObjectID, pairs []int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pairs == nil {
		d.pairs = map[ObjectID]map[int]bool{}
	}
	if d.pairs[node] == nil {
		d.pairs[node] = map[int]bool{}
	}
	for _, p := range pairs {
		d.pairs[node][p] = true
	}
}

// uploadToNode sends the metadata and the slivers of pairs, in batches when the node offers
// the batched route, else sliver by sliver.
func (c *Client) uploadToNode(ctx context.Context, node *nodeclient.Client, e *encodedBlob, md *blob.MetadataWithID,
	mdBytes []byte, pairs []int, prog *progress, again bool) error {
	if node.WithTimeout(c.comm.StatusTimeout).OffersBatch(ctx) {
		err := c.uploadBatches(ctx, node, e, md, mdBytes, pairs, prog, again)
		var ne *NodeError
		if errors.As(err, &ne) && (ne.Status == http.StatusNotFound || ne.Status == http.StatusMethodNotAllowed) && ne.Reason == "" {
			node.NoBatch()
		} else {
			return err
		}
	}
	return c.uploadSlivers(ctx, node, e, md, mdBytes, pairs, prog, again)
}

// uploader returns node's client for uploads: retried, and holding their bodies' bytes of the
// client's data-in-flight bound while they run.
func (c *Client) uploader(node *nodeclient.Client) *nodeclient.Client {
	return node.With(nodeclient.Retry(c.retryPolicy()), nodeclient.LimitBytes(c.inflight, c.comm.MaxDataInFlight))
}

// uploadBatches sends the slivers in batched requests of at most UploadChunkBytes each, the
// first carrying the metadata.
func (c *Client) uploadBatches(ctx context.Context, node *nodeclient.Client, e *encodedBlob, md *blob.MetadataWithID,
	mdBytes []byte, pairs []int, prog *progress, again bool) error {
	var chunks [][]int
	var cur []int
	var size int64
	for _, p := range pairs {
		ps := e.sliverDataSize(redstuff.Primary) + e.sliverDataSize(redstuff.Secondary)
		if len(cur) > 0 && size+ps > c.comm.UploadChunkBytes {
			chunks = append(chunks, cur)
			cur, size = nil, 0
		}
		cur = append(cur, p)
		size += ps
	}
	if len(cur) > 0 || len(chunks) == 0 {
		chunks = append(chunks, cur)
	}
	up := c.uploader(node)
	for k, chunk := range chunks {
		body := &batchBody{}
		bw, err := api.NewBatchWriter(body)
		if err != nil {
			return fmt.Errorf("client: %w", err)
		}
		if k == 0 {
			if err := bw.WriteMetadata(mdBytes); err != nil {
				return fmt.Errorf("client: %w", err)
			}
		}
		var sliverBytes int64
		for _, p := range chunk {
			for _, a := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
				k, err := e.writeSliver(body, bw, p, a)
				if err != nil {
					return fmt.Errorf("client: %w", err)
				}
				sliverBytes += k
			}
		}
		if err := bw.Close(); err != nil {
			return fmt.Errorf("client: %w", err)
		}
		if _, err := up.PutSliverBatch(ctx, md.ID, body, true); err != nil {
			return err
		}
		if !again {
			prog.add(sliverBytes)
		}
	}
	return nil
}

// batchBody is a batched upload body that refers to the slivers where the encoding holds
// them instead of copying them: Write copies small writes (frame headers) into chunks of its
// own and keeps large ones (sliver data) by reference, and addSection refers to sliver data
// in a file. Unlike what io.Writer asks, it retains what it is given; the encoding keeps the
// slivers alive and unchanged during the upload.
type batchBody struct {
	segs  []segment
	chunk []byte // small writes are copied here; it never grows, a full one is replaced
	open  bool   // the last segment ends at the end of chunk and may be extended
	size  int64
	guard *memGuard // if not nil, reads of the body happen under it
}

// segment is a part of a body: bytes in memory, or a section of a file.
type segment struct {
	b []byte
	f *io.SectionReader
}

func (s segment) len() int64 {
	if s.f != nil {
		return s.f.Size()
	}
	return int64(len(s.b))
}

// bigWrite is the size from which a write is kept by reference.
const bigWrite = 4 << 10

func (b *batchBody) Write(p []byte) (int, error) {
	b.size += int64(len(p))
	if len(p) >= bigWrite {
		b.segs = append(b.segs, segment{b: p})
		b.open = false
		return len(p), nil
	}
	if cap(b.chunk)-len(b.chunk) < len(p) {
		b.chunk = make([]byte, 0, 16<<10)
		b.open = false
	}
	start := len(b.chunk)
	b.chunk = append(b.chunk, p...)
	if b.open {
		last := b.segs[len(b.segs)-1].b
		b.segs[len(b.segs)-1].b = b.chunk[start-len(last) : len(b.chunk)]
	} else {
		b.segs = append(b.segs, segment{b: b.chunk[start:len(b.chunk)]})
	}
	b.open = true
	return len(p), nil
}

// addSection appends the bytes of sec, read when the body is read.
func (b *batchBody) addSection(sec *io.SectionReader) {
	b.size += sec.Size()
	b.segs = append(b.segs, segment{f: sec})
	b.open = false
}

// Len returns the body's length (nodeclient.Body).
func (b *batchBody) Len() int64 { return b.size }

// Reader returns a new reader of the whole body (nodeclient.Body).
func (b *batchBody) Reader() io.Reader { return b.reader() }

// reader returns a new reader of the whole body.
func (b *batchBody) reader() *segReader {
	return &segReader{segs: b.segs, left: b.size, guard: b.guard}
}

// segReader reads a list of segments as one stream (without modifying the list).
type segReader struct {
	segs  []segment
	i     int   // current segment
	off   int64 // bytes of it already read
	left  int64 // bytes not read yet
	guard *memGuard
}

// errBodyRevoked: an upload body was read after its store ended.
var errBodyRevoked = errors.New("client: upload body read after the store ended")

// Len reports the bytes left.
func (r *segReader) Len() int { return int(r.left) }

func (r *segReader) Read(p []byte) (int, error) {
	if r.guard != nil {
		if !r.guard.begin() {
			return 0, errBodyRevoked
		}
		defer r.guard.end()
	}
	n := 0
	for n < len(p) && r.i < len(r.segs) {
		sg := r.segs[r.i]
		var k int
		if sg.f != nil {
			want := int(min(int64(len(p)-n), sg.f.Size()-r.off))
			got, err := sg.f.ReadAt(p[n:n+want], r.off)
			if got < want {
				if err == nil || errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				r.left -= int64(n + got)
				return n + got, fmt.Errorf("client: reading spilled slivers: %w", err)
			}
			k = got
		} else {
			k = copy(p[n:], sg.b[r.off:])
		}
		n += k
		if r.off += int64(k); r.off == sg.len() {
			r.i, r.off = r.i+1, 0
		}
	}
	r.left -= int64(n)
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// WriteTo writes the rest to w, each slice in place, each file section through a buffer.
func (r *segReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	var buf []byte
	for r.i < len(r.segs) {
		sg := r.segs[r.i]
		var k int64
		var err error
		if sg.f != nil {
			if buf == nil {
				buf = make([]byte, 256<<10)
			}
			k, err = io.CopyBuffer(onlyWriter{w}, io.NewSectionReader(sg.f, r.off, sg.f.Size()-r.off), buf)
		} else {
			if r.guard != nil && !r.guard.begin() {
				return total, errBodyRevoked
			}
			var n int
			if rw, ok := w.(nodeclient.RetainingWriter); ok {
				// The body's memory stays as it is until the store has ended (batchBody).
				n, err = rw.WriteRetained(sg.b[r.off:])
			} else {
				n, err = w.Write(sg.b[r.off:])
			}
			k = int64(n)
			if r.guard != nil {
				r.guard.end()
			}
		}
		total += k
		r.left -= k
		if r.off += k; r.off == sg.len() {
			r.i, r.off = r.i+1, 0
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// onlyWriter hides a writer's ReadFrom, so that io.CopyBuffer uses the buffer it is given.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }

// encodedBlob is an encoded blob being stored: its commitment, and its slivers in memory
// (mem) or in a temporary file at params.SliverOffset (file).
type encodedBlob struct {
	redstuff.Commitment
	params redstuff.Params
	mem    *redstuff.Encoding
	file   *os.File
	// guard (with mem) stops the upload bodies' reads of mem at close, after which mem's
	// memory goes to reuse (if not nil) for another store.
	guard *memGuard
	reuse *sliverMemory
	// delivered records the pairs each node acknowledged, over the attempts of the store.
	delivered deliveries
}

// close removes the temporary file, if any, or ends the use of the slivers in memory.
func (e *encodedBlob) close() {
	if e.file != nil {
		removeTemp(e.file)
	}
	if e.guard != nil {
		e.guard.revoke()
		if e.reuse != nil {
			e.reuse.give(e.mem.Memory())
		}
	}
}

// sliverDataSize returns the length of the BCS SliverData of a sliver of axis a.
func (e *encodedBlob) sliverDataSize(a redstuff.Axis) int64 {
	return int64(blob.SliverDataLen(e.params.SliverLen(a, e.SymbolSize)))
}

// writeSliver appends the BCS SliverData of the sliver of axis a in pair to body, as a frame
// of bw if bw is not nil, referring to the sliver's data where it is; it returns the
// SliverData's length.
func (e *encodedBlob) writeSliver(body *batchBody, bw *api.BatchWriter, pair int, a redstuff.Axis) (int64, error) {
	idx := e.params.SliverIndex(a, pair)
	dataLen := e.params.SliverLen(a, e.SymbolSize)
	head, tail, err := blob.SliverDataFraming(dataLen, e.SymbolSize, idx)
	if err != nil {
		return 0, err
	}
	size := int64(len(head) + dataLen + len(tail))
	if bw != nil {
		if err := bw.WriteSliverHeader(uint16(pair), a == redstuff.Secondary, size); err != nil {
			return 0, err
		}
	}
	if _, err := body.Write(head); err != nil {
		return 0, err
	}
	if e.mem != nil {
		data := e.mem.Primary[idx]
		if a == redstuff.Secondary {
			data = e.mem.Secondary[idx]
		}
		body.guard = e.guard
		_, err = body.Write(data)
	} else {
		body.addSection(io.NewSectionReader(e.file, e.params.SliverOffset(a, idx, e.SymbolSize), int64(dataLen)))
	}
	if err != nil {
		return 0, err
	}
	if _, err := body.Write(tail); err != nil {
		return 0, err
	}
	return size, nil
}

// uploadSlivers uses the per-sliver routes: the metadata, then every sliver (at most
// MaxNodeConnections at once).
func (c *Client) uploadSlivers(ctx context.Context, node *nodeclient.Client, e *encodedBlob, md *blob.MetadataWithID,
	mdBytes []byte, pairs []int, prog *progress, again bool) error {
	up := c.uploader(node)
	if _, err := up.PutMetadata(ctx, md.ID, mdBytes, true); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.comm.MaxNodeConnections)
	for _, p := range pairs {
		for _, a := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
			g.Go(func() error {
				body := &batchBody{}
				k, err := e.writeSliver(body, nil, p, a)
				if err != nil {
					return fmt.Errorf("client: %w", err)
				}
				if _, err := up.PutSliver(gctx, md.ID, p, a, body, true); err != nil {
					return err
				}
				if !again {
					prog.add(k)
				}
				return nil
			})
		}
	}
	return g.Wait()
}

// ownedObjects are the storage resources and blob objects of the wallet.
type ownedObjects struct {
	Storage []Storage
	Blobs   []Blob
}

func ownedFromAPI(o *cpapi.Owned) *ownedObjects {
	out := &ownedObjects{Storage: make([]Storage, len(o.Storage)), Blobs: blobsFromAPI(o.Blobs)}
	for i, st := range o.Storage {
		out.Storage[i] = storageFromAPI(st)
	}
	return out
}
