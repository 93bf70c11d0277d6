package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

// batchChunkBytes is how many sliver bytes the batched upload verifies and commits at once.
const batchChunkBytes = 32 << 20

type batchSliver struct {
	frame int
	pair  int
	axis  redstuff.Axis
	body  []byte
}

type batchChunk struct {
	slivers []batchSliver
	err     error // the read error that ended the body (nil: more may follow; io.EOF: done)
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
// committee: the chunk being committed, the one being read, and a frame.
func (u *Uploads) BatchMemory() (int64, error) {
	frame, err := u.BatchFrameLimit()
	if err != nil {
		return 0, err
	}
	return 2*batchChunkBytes + frame, nil
}

// PutBatch reads a batched upload (api.BatchWriter framing: optionally the metadata first,
// then slivers) from body and stores what it carries, chunk by chunk: every sliver of a chunk
// is checked, verified in parallel and committed in one store batch while the next chunk is
// read. It stops at the first frame that fails (the error names it) and keeps what it stored
// before.
func (u *Uploads) PutBatch(ctx context.Context, id blob.ID, body io.Reader, up Upload) (api.BatchResult, error) {
	v, err := u.currentView()
	if err != nil {
		return api.BatchResult{}, err
	}
	maxFrame := max(sliverLimit(v.enc.Params()), api.MetadataLimit(v.nShards))
	br := api.NewBatchReader(body, int(maxFrame))
	br.SetAlloc(u.frameBufs.get)
	var res api.BatchResult
	st := &uploadState{}
	fail := func(err error, frame int) (api.BatchResult, error) {
		return res, withMeta(err, "frame", strconv.Itoa(frame), "stored", strconv.Itoa(res.Stored))
	}

	// The first frame may be metadata.
	first, err := br.Next()
	if err != nil && !errors.Is(err, io.EOF) {
		return fail(mapBatchError(err), 0)
	}
	eof := errors.Is(err, io.EOF)
	var carry *api.Frame
	if !eof {
		if first.Kind == api.FrameMetadata {
			md, err := DecodeMetadata(id, first.Payload, v.enc.Params())
			if err != nil {
				return fail(err, 0)
			}
			out, err := u.storeMetadata(ctx, md, v, up)
			if err != nil {
				return fail(err, 0)
			}
			res.Metadata = api.Stored
			if out == Buffered || (out == AlreadyHeld && u.pending.metadata(id) != nil) {
				res.Metadata = api.Buffered
			}
		} else {
			carry = &first
		}
	}

	// A reader goroutine reads the next chunk while the current one is verified and committed.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan batchChunk, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(chunks)
		if eof {
			return
		}
		maxFrames := 2*v.nShards + 1
		var c batchChunk
		var size int
		if carry != nil {
			c.slivers = append(c.slivers, batchSliver{frame: 0, pair: int(carry.Pair), axis: frameAxis(carry.Kind), body: carry.Payload})
			size += len(carry.Payload)
		}
		for {
			f, err := br.Next()
			if err == nil && f.Kind == api.FrameMetadata {
				err = fmt.Errorf("%w: metadata frame after slivers", api.ErrBatchMalformed)
			}
			if err == nil && br.Frames() > maxFrames {
				err = fmt.Errorf("%w: more than %d frames", api.ErrBatchMalformed, maxFrames)
			}
			if err != nil {
				c.err = err
				select {
				case chunks <- c:
				case <-rctx.Done():
				}
				return
			}
			c.slivers = append(c.slivers, batchSliver{frame: br.Frames() - 1, pair: int(f.Pair), axis: frameAxis(f.Kind), body: f.Payload})
			size += len(f.Payload)
			if size >= batchChunkBytes {
				select {
				case chunks <- c:
				case <-rctx.Done():
					return
				}
				c, size = batchChunk{}, 0
			}
		}
	}()
	defer wg.Wait()
	defer cancel()

	for c := range chunks {
		if err := u.storeBatchChunk(ctx, id, v, c.slivers, up, st, &res); err != nil {
			return fail(err, batchErrFrame(err, c.slivers))
		}
		if c.err != nil && !errors.Is(c.err, io.EOF) {
			return fail(mapBatchError(c.err), br.Frames())
		}
	}
	res.Buffered = !st.registered && st.info != nil
	return res, nil
}

func frameAxis(kind byte) redstuff.Axis {
	if kind == api.FrameSecondary {
		return redstuff.Secondary
	}
	return redstuff.Primary
}

// frameError records the frame a chunk failed at.
type frameError struct {
	frame int
	err   error
}

func (e *frameError) Error() string { return fmt.Sprintf("frame %d: %v", e.frame, e.err) }
func (e *frameError) Unwrap() error { return e.err }

func batchErrFrame(err error, slivers []batchSliver) int {
	var fe *frameError
	if errors.As(err, &fe) {
		return fe.frame
	}
	if len(slivers) > 0 {
		return slivers[0].frame
	}
	return 0
}

// storeBatchChunk checks every sliver of a chunk, verifies them in parallel and commits the
// new ones in one batch (or buffers them if the blob is not registered yet).
func (u *Uploads) storeBatchChunk(ctx context.Context, id blob.ID, v *epochView, slivers []batchSliver,
	up Upload, st *uploadState, res *api.BatchResult) error {
	type item struct {
		bs    batchSliver
		sl    redstuff.Sliver
		shard uint16
	}
	var todo []item
	for _, bs := range slivers {
		if st.info != nil && !st.registered {
			// Not registered (pending upload): buffer one by one.
			out, err := u.storeSliver(ctx, id, v, bs.pair, bs.axis, bs.body, up, st)
			if err != nil {
				return &frameError{bs.frame, err}
			}
			if out == AlreadyHeld {
				res.AlreadyStored++
			} else {
				res.Stored++
			}
			continue
		}
		sl, shard, done, err := u.checkSliver(ctx, id, v, bs.pair, bs.axis, bs.body, up, st)
		if err != nil {
			u.m.slivers.WithLabelValues("rejected").Inc()
			return &frameError{bs.frame, err}
		}
		if done {
			res.AlreadyStored++
			continue
		}
		if !st.registered {
			out, err := u.storeSliver(ctx, id, v, bs.pair, bs.axis, bs.body, up, st)
			if err != nil {
				return &frameError{bs.frame, err}
			}
			if out == AlreadyHeld {
				res.AlreadyStored++
			} else {
				res.Stored++
			}
			continue
		}
		todo = append(todo, item{bs, sl, shard})
	}
	if len(todo) == 0 {
		return nil
	}
	// A few workers take the slivers in turn: a goroutine per sliver would grow a fresh stack
	// to the verification's depth every time.
	g, gctx := errgroup.WithContext(ctx)
	var next atomic.Int64
	for range min(max(u.cfg.MaxVerifications, 1), len(todo)) {
		g.Go(func() error {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(todo) || gctx.Err() != nil {
					return nil
				}
				it := todo[i]
				if err := u.verify(gctx, v.enc, st.md, it.sl); err != nil {
					u.m.slivers.WithLabelValues("invalid").Inc()
					return &frameError{it.bs.frame, err}
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	size := 0
	for _, it := range todo {
		size += len(it.bs.body) + 64
	}
	b := u.store.NewBatchSized(size)
	defer b.Close()
	for _, it := range todo {
		if err := b.PutSliverData(it.shard, id, it.bs.axis, it.bs.body); err != nil {
			return err
		}
	}
	if err := u.store.Commit(ctx, b); err != nil {
		return err
	}
	res.Stored += len(todo)
	u.m.slivers.WithLabelValues("stored").Add(float64(len(todo)))
	for _, it := range todo {
		// The batch copied the body and nothing else holds it: recycle its buffer.
		u.frameBufs.put(it.bs.body)
	}
	return nil
}

// bufPool recycles the buffers of uploaded frames, so that a node receiving gigabytes does
// not allocate (and zero, and fault in) fresh memory for every sliver.
type bufPool struct{ p sync.Pool }

// get returns a buffer of n bytes (contents undefined).
func (bp *bufPool) get(n int) []byte {
	if b, ok := bp.p.Get().(*[]byte); ok && cap(*b) >= n {
		return (*b)[:n]
	}
	return make([]byte, n)
}

// put gives b back; the caller must not use it afterwards.
func (bp *bufPool) put(b []byte) {
	if cap(b) > 0 {
		bp.p.Put(&b)
	}
}
