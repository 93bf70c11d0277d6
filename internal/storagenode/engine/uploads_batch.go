package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"sync"
	"time"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/hugemem"
	"github.com/floelabs/floe/internal/nodestore"
	"github.com/floelabs/floe/redstuff"
)

// batchChunkBytes is how many verified sliver bytes a batched upload commits at once.
const batchChunkBytes = 32 << 20

type batchSliver struct {
	frame int
	pair  int
	axis  redstuff.Axis
	body  []byte
}

// mapBatchError maps the framing errors onto request errors.
func mapBatchError(err error) error {
	switch {
	case errors.Is(err, api.ErrBatchTruncated):
		return fmt.Errorf("%w: %w", ErrTruncatedBody, err)
	case errors.Is(err, api.ErrBatchMalformed):
		return fmt.Errorf("%w: %w", ErrMalformedBody, err)
	case errors.Is(err, api.ErrFrameTooLarge):
		return fmt.Errorf("%w: %w", ErrBodyTooLarge, err)
	default:
		return fmt.Errorf("%w: reading the body: %w", ErrTruncatedBody, err)
	}
}

// BatchFrameLimit returns the largest frame of a batched upload for the current committee.
func (u *Uploads) BatchFrameLimit() (int64, error) {
	v, err := u.currentView()
	if err != nil {
		return 0, err
	}
	return max(sliverLimit(v.enc.Params()), api.MetadataLimit(v.nShards)), nil
}

// BatchMemory returns the most body bytes one batched upload holds at once for the current
// committee: the verified slivers of a chunk and the frame being read.
func (u *Uploads) BatchMemory() (int64, error) {
	frame, err := u.BatchFrameLimit()
	if err != nil {
		return 0, err
	}
	return batchChunkBytes + frame, nil
}

// PutBatch reads a batched upload (api.BatchWriter framing: optionally the metadata first,
// then slivers) from body and stores what it carries. The goroutine that reads the body
// checks and verifies each sliver as soon as its frame is read, while its bytes are still in
// the CPU's caches, and commits the verified slivers in one store batch every
// batchChunkBytes and at the end. (Before, a reader goroutine handed 32 MiB chunks, in
// practice whole 4 MiB requests, to a few verifying workers: by then the first slivers had
// left the caches, and the hand-offs cost scheduler work on every request.) It stops at the
// first frame that fails (the error names it) and keeps what it verified before it.
func (u *Uploads) PutBatch(ctx context.Context, id blob.ID, body io.Reader, up Upload) (api.BatchResult, error) {
	v, err := u.currentView()
	if err != nil {
		return api.BatchResult{}, err
	}
	if up.Pending {
		u.awaitRegistration(ctx, id, v, min(batchRegistrationWait, u.cfg.MaxWaitForRegistration))
	}
	maxFrame := max(sliverLimit(v.enc.Params()), api.MetadataLimit(v.nShards))
	br := api.NewBatchReader(body, int(maxFrame))
	br.SetAlloc(u.frameBufs.get, u.frameBufs.put)
	var res api.BatchResult
	st := &uploadState{}
	var todo []verifiedSliver // verified, not committed yet
	size := 0
	fail := func(err error, frame int) (api.BatchResult, error) {
		// Keep what was verified before the failing frame (a failed commit leaves it out of
		// res.Stored; the frame's error is the one reported).
		if len(todo) > 0 && ctx.Err() == nil {
			_ = u.commitVerified(ctx, id, todo, &res)
		}
		return res, withMeta(err, "frame", strconv.Itoa(frame), "stored", strconv.Itoa(res.Stored))
	}
	maxFrames := 2*v.nShards + 1
	for {
		f, err := br.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil && f.Kind == api.FrameMetadata && br.Frames() > 1 {
			err = fmt.Errorf("%w: metadata frame after slivers", api.ErrBatchMalformed)
		}
		if err == nil && br.Frames() > maxFrames {
			err = fmt.Errorf("%w: more than %d frames", api.ErrBatchMalformed, maxFrames)
		}
		if err != nil {
			return fail(mapBatchError(err), br.Frames())
		}
		frame := br.Frames() - 1
		if f.Kind == api.FrameMetadata {
			md, err := DecodeMetadata(id, f.Payload, v.enc.Params())
			if err != nil {
				return fail(err, frame)
			}
			out, err := u.storeMetadata(ctx, md, v, up)
			if err != nil {
				return fail(err, frame)
			}
			res.Metadata = api.Stored
			if out == Buffered || (out == AlreadyHeld && u.pending.metadata(id) != nil) {
				res.Metadata = api.Buffered
			}
			continue
		}
		bs := batchSliver{frame: frame, pair: int(f.Pair), axis: frameAxis(f.Kind), body: f.Payload}
		vs, err := u.verifyBatchSliver(ctx, id, v, bs, up, st, &res)
		if err != nil {
			return fail(err, frame)
		}
		if vs == nil {
			continue
		}
		todo = append(todo, *vs)
		if size += len(bs.body); size >= batchChunkBytes {
			if err := u.commitVerified(ctx, id, todo, &res); err != nil {
				return res, withMeta(err, "frame", strconv.Itoa(todo[0].frame), "stored", strconv.Itoa(res.Stored))
			}
			todo, size = todo[:0], 0
		}
	}
	if err := u.commitVerified(ctx, id, todo, &res); err != nil {
		return res, withMeta(err, "frame", strconv.Itoa(todo[0].frame), "stored", strconv.Itoa(res.Stored))
	}
	res.Buffered = !st.registered && st.info != nil
	return res, nil
}

// batchRegistrationWait bounds how long a pending batched upload waits for its blob's
// registration before its slivers are buffered.
const batchRegistrationWait = time.Second

// awaitRegistration waits, up to wait or the end of ctx, until the node has seen blob id
// registered (or invalid). A client uploads once its registration is on the control plane,
// which a node learns by following events a few milliseconds later: a batch that came in
// between had its slivers copied into the pending buffer (fresh memory, page faults), then
// verified and stored when the event arrived, which cost the nodes 8-13% of their CPU in
// the devnet stores where it happened (BenchmarkStoreCPU, perf). Waiting for the event first
// stores them at once. A blob whose registration does not come in time is buffered as before.
func (u *Uploads) awaitRegistration(ctx context.Context, id blob.ID, v *epochView, wait time.Duration) {
	_ = u.waitEvents(ctx, time.Now().Add(wait), func() bool {
		info, err := u.blobInfo(ctx, id)
		return err != nil || info.Invalid || info.IsRegistered(v.epoch)
	})
}

func frameAxis(kind byte) redstuff.Axis {
	if kind == api.FrameSecondary {
		return redstuff.Secondary
	}
	return redstuff.Primary
}

// verifiedSliver is a sliver of a batch that passed its checks and verification.
type verifiedSliver struct {
	batchSliver
	shard uint16
	sum   uint32 // nodestore.SliverSum of body, computed just after verifying it (in cache)
}

// verifyBatchSliver checks and verifies one sliver of a batch. It returns the sliver to
// commit, or nil if there is nothing to commit: the sliver was already held (counted in
// res.AlreadyStored) or its blob is not registered yet and it was buffered (res.Stored).
func (u *Uploads) verifyBatchSliver(ctx context.Context, id blob.ID, v *epochView, bs batchSliver, up Upload,
	st *uploadState, res *api.BatchResult) (vs *verifiedSliver, err error) {
	defer func() {
		if vs == nil {
			// Refused, already held, or buffered (the pending buffer keeps a copy): nothing
			// holds the body any more.
			u.frameBufs.put(bs.body)
		}
	}()
	if st.info != nil && !st.registered {
		// Not registered (pending upload): buffered one by one.
		return nil, u.bufferBatchSliver(ctx, id, v, bs, up, st, res)
	}
	sl, shard, done, err := u.checkSliver(ctx, id, v, bs.pair, bs.axis, bs.body, up, st)
	if err != nil {
		u.m.slivers.WithLabelValues("rejected").Inc()
		return nil, err
	}
	if done {
		res.AlreadyStored++
		return nil, nil
	}
	if !st.registered {
		return nil, u.bufferBatchSliver(ctx, id, v, bs, up, st, res)
	}
	// The checksum first, while the frame just read is still in the CPU's caches (the
	// verification walks a few MiB of its own).
	sum := nodestore.SliverSum(bs.body)
	if err := u.verify(ctx, v.enc, st.md, sl); err != nil {
		u.m.slivers.WithLabelValues("invalid").Inc()
		return nil, err
	}
	return &verifiedSliver{bs, shard, sum}, nil
}

// bufferBatchSliver stores (buffers) a sliver of a blob not registered yet.
func (u *Uploads) bufferBatchSliver(ctx context.Context, id blob.ID, v *epochView, bs batchSliver, up Upload,
	st *uploadState, res *api.BatchResult) error {
	out, err := u.storeSliver(ctx, id, v, bs.pair, bs.axis, bs.body, up, st)
	if err != nil {
		return err
	}
	if out == AlreadyHeld {
		res.AlreadyStored++
	} else {
		res.Stored++
	}
	return nil
}

// commitVerified commits verified slivers in one store batch (durable when it returns) and
// recycles their buffers.
func (u *Uploads) commitVerified(ctx context.Context, id blob.ID, todo []verifiedSliver, res *api.BatchResult) error {
	if len(todo) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	lens := make([]int, len(todo))
	for i, it := range todo {
		lens[i] = len(it.body)
	}
	b := u.store.NewSliverBatch(lens)
	defer b.Close()
	for _, it := range todo {
		if err := b.PutSliverDataSum(it.shard, id, it.axis, it.body, it.sum); err != nil {
			return err
		}
	}
	if err := u.store.Commit(ctx, b); err != nil {
		return err
	}
	res.Stored += len(todo)
	u.m.slivers.WithLabelValues("stored").Add(float64(len(todo)))
	for _, it := range todo {
		// The slivers are written and nothing else holds their bodies: recycle the buffers.
		u.frameBufs.put(it.body)
	}
	return nil
}

// bufPool recycles the buffers of uploaded frames, so that a node receiving gigabytes does
// not allocate (and zero, and fault in) fresh memory for every sliver. Buffers are pooled by
// size class (the bit length of their size), so that a blob's primary slivers, its secondary
// slivers (half as long) and its metadata frame each find buffers of their own size: with one
// pool, a secondary sliver's buffer handed out for a primary sliver was dropped and a fresh
// one allocated.
type bufPool struct {
	classes [bits.UintSize + 1]sync.Pool
	// arena, if not nil, hands out the large buffers (slivers) from memory with huge pages.
	arena *hugemem.Arena
}

// sizeClass returns the pool class of buffers of n bytes: the buffers of a class hold between
// 2^(c-1)+1 and 2^c bytes.
func sizeClass(n int) int { return bits.Len(uint(n - 1)) }

// get returns a buffer of n bytes (contents undefined).
func (bp *bufPool) get(n int) []byte {
	if n <= 0 {
		return make([]byte, n)
	}
	if b := bp.arena.Get(n); b != nil {
		return b
	}
	if b, ok := bp.classes[sizeClass(n)].Get().(*[]byte); ok && cap(*b) >= n {
		return (*b)[:n]
	}
	return make([]byte, n)
}

// put gives b back; the caller must not use it afterwards.
func (bp *bufPool) put(b []byte) {
	if bp.arena.Put(b) {
		return
	}
	if c := cap(b); c > 0 {
		b = b[:c]
		bp.classes[sizeClass(c)].Put(&b)
	}
}

// FrameMemory returns the bytes mapped for uploaded slivers' buffers (Options.FrameMemory)
// and the bytes of them in use.
func (u *Uploads) FrameMemory() (mapped, inUse int) { return u.frameBufs.arena.Stats() }
