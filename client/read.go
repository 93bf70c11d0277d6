package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/fanout"
	"github.com/floelabs/floe/internal/nodeclient"
	"github.com/floelabs/floe/redstuff"
)

// ConsistencyCheck is how a read checks that the blob was encoded consistently (spec §2.9),
// beyond verifying every sliver it uses against the metadata.
type ConsistencyCheck int

// Consistency checks (Walrus's ConsistencyCheckType).
const (
	// ConsistencyDefault: a read that decodes rebuilds every systematic primary sliver it did
	// not fetch from the decoded blob and checks its hash; a read that streams the systematic
	// slivers has nothing more to check.
	ConsistencyDefault ConsistencyCheck = iota
	// ConsistencyStrict re-encodes the whole decoded blob and compares its blob ID (Walrus's
	// strict_consistency_check): it catches a writer that encoded any sliver inconsistently,
	// at the cost of an encode and of holding the whole blob in memory before writing it.
	ConsistencyStrict
	// ConsistencySkip checks nothing beyond the slivers themselves (Walrus's
	// skip_consistency_check).
	ConsistencySkip
)

// ReadOptions are the options of a read.
type ReadOptions struct {
	Consistency ConsistencyCheck
}

// readOptions returns the options of a read call (at most one ReadOptions).
func readOptions(opts []ReadOptions) (ReadOptions, error) {
	switch {
	case len(opts) > 1:
		return ReadOptions{}, fmt.Errorf("%w: more than one ReadOptions", ErrInvalidConfig)
	case len(opts) == 0:
		return ReadOptions{}, nil
	case opts[0].Consistency < ConsistencyDefault || opts[0].Consistency > ConsistencySkip:
		return ReadOptions{}, fmt.Errorf("%w: consistency check %d", ErrInvalidConfig, opts[0].Consistency)
	}
	return opts[0], nil
}

// Read reads a blob and writes it to w (spec §11.4), streaming: it checks that the blob is
// certified, fetches verified metadata, then fetches the systematic primary slivers (each one
// row of the blob) in order, a window of them at a time from the nodes that hold them, verifies
// each against the metadata and writes it as soon as the rows before it are written. Memory
// stays bounded by the window whatever the blob's size. If a systematic sliver cannot be had,
// it falls back to fetching any K_p verified primary slivers from the fastest nodes, decoding
// them with the consistency check of opts (at most one; the default check if none), and
// writing the rest. With ConsistencyStrict the whole blob is read and checked before any of
// it is written. A blob up to CommunicationConfig.NearReadMaxBytes is read instead from the
// nodes nearest the client, decoding what they lack, when the client expects that to be
// faster than waiting for far nodes (see nearPlan). It returns the number of bytes written.
func (c *Client) Read(ctx context.Context, id blob.ID, w io.Writer, opts ...ReadOptions) (int64, error) {
	o, err := readOptions(opts)
	if err != nil {
		return 0, err
	}
	return c.retryStale(ctx, func() (*committeeView, int64, error) {
		v, md, err := c.readSetup(ctx, id)
		if err != nil {
			return v, 0, err
		}
		n, err := c.read(ctx, v, md, 0, md.Metadata.UnencodedLength, w, o.Consistency)
		return v, n, err
	})
}

// retryStale runs a read (which returns the committee view it used, if it got one, and the
// bytes it wrote) once more when it failed before writing anything for want of slivers or
// metadata and the committee has moved to a later epoch since the view was fetched: the
// shards moved, and their previous owners may have deleted them after EpochChangeDone.
func (c *Client) retryStale(ctx context.Context, read func() (*committeeView, int64, error)) (int64, error) {
	v, n, err := read()
	if err == nil || n > 0 || v == nil || ctx.Err() != nil ||
		!(errors.Is(err, ErrNotEnoughSlivers) || errors.Is(err, ErrBlobNotFound) || errors.Is(err, ErrNoMetadata)) {
		return n, err
	}
	nv, cerr := c.committee(ctx, true)
	if cerr != nil || nv.c.Epoch <= v.c.Epoch {
		return n, err
	}
	c.log.Info("read failed with the committee of an earlier epoch; reading again with the current one", "epoch", v.c.Epoch,
		"current", nv.c.Epoch, "err", err)
	_, n, err = read()
	return n, err
}

// ReadBytes reads a blob into memory (see Read).
func (c *Client) ReadBytes(ctx context.Context, id blob.ID, opts ...ReadOptions) ([]byte, error) {
	o, err := readOptions(opts)
	if err != nil {
		return nil, err
	}
	var data []byte
	_, err = c.retryStale(ctx, func() (*committeeView, int64, error) {
		v, md, err := c.readSetup(ctx, id)
		if err != nil {
			return v, 0, err
		}
		if o.Consistency == ConsistencyStrict {
			data, err = c.readStrict(ctx, v, md)
			return v, 0, err
		}
		buf := bytes.NewBuffer(make([]byte, 0, md.Metadata.UnencodedLength))
		if _, err := c.streamOrNear(ctx, v, md, buf, o.Consistency); err != nil {
			return v, 0, err
		}
		data = buf.Bytes()
		return v, 0, nil
	})
	if err != nil {
		return nil, err
	}
	return data, nil
}

// read writes bytes [offset, offset+length) of the blob to w under the consistency check.
func (c *Client) read(ctx context.Context, v *committeeView, md *blob.MetadataWithID, offset, length uint64, w io.Writer, check ConsistencyCheck) (int64, error) {
	if check != ConsistencyStrict {
		if offset == 0 && length == md.Metadata.UnencodedLength {
			return c.streamOrNear(ctx, v, md, w, check)
		}
		return c.stream(ctx, v, md, offset, length, w, check)
	}
	if c.spills(md.Metadata.UnencodedLength) {
		return c.readStrictSpilled(ctx, v, md, offset, length, w)
	}
	data, err := c.readStrict(ctx, v, md)
	if err != nil {
		return 0, err
	}
	k, err := w.Write(data[offset : offset+length])
	if err != nil {
		err = fmt.Errorf("client: writing the blob: %w", err)
	}
	return int64(k), err
}

// readStrict reads the whole blob, re-encodes it and checks that it gives the blob's ID.
func (c *Client) readStrict(ctx context.Context, v *committeeView, md *blob.MetadataWithID) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, md.Metadata.UnencodedLength))
	if _, err := c.streamOrNear(ctx, v, md, buf, ConsistencyDefault); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	cm, err := v.enc.Commit(data)
	if err != nil {
		return nil, fmt.Errorf("client: re-encoding %s: %w", md.ID, err)
	}
	if got := blob.NewMetadata(cm).ID; got != md.ID {
		return nil, fmt.Errorf("%w: %s is inconsistently encoded: its data re-encodes to %s", ErrBlobInvalid, md.ID, got)
	}
	return data, nil
}

// readSetup checks that the blob is readable and fetches the committee and verified metadata.
// The view it returns falls back to the previous committee while an epoch change is in
// progress (committeeView.forBlob); it returns the view also when the metadata fetch fails.
func (c *Client) readSetup(ctx context.Context, id blob.ID) (*committeeView, *blob.MetadataWithID, error) {
	st, err := c.readable(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	v, err := c.committee(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	v = v.forBlob(st)
	md, err := c.fetchMetadata(ctx, v, id)
	if err != nil {
		return v, nil, err
	}
	return v, md, nil
}

// readWithMetadata fetches any K_p verified primary slivers and decodes them, with the
// default consistency check unless check is ConsistencySkip.
func (c *Client) readWithMetadata(ctx context.Context, v *committeeView, md *blob.MetadataWithID, check ConsistencyCheck) ([]byte, error) {
	slivers, err := c.fetchPrimary(ctx, v, md, nil, v.params.PrimarySource, nil, 0)
	if err != nil {
		return nil, err
	}
	return c.decodeSlivers(v, md, slivers, check)
}

// decodeSlivers decodes verified primary slivers, with the default consistency check unless
// check is ConsistencySkip.
func (c *Client) decodeSlivers(v *committeeView, md *blob.MetadataWithID, slivers []redstuff.Sliver, check ConsistencyCheck) ([]byte, error) {
	var (
		data []byte
		err  error
	)
	if check == ConsistencySkip {
		data, err = v.enc.Decode(md.Metadata.UnencodedLength, slivers, nil)
	} else {
		data, err = blob.Decode(v.enc, md, slivers)
	}
	if errors.Is(err, redstuff.ErrInconsistent) {
		return nil, fmt.Errorf("%w: %s is inconsistently encoded: %w", ErrBlobInvalid, md.ID, err)
	}
	if err != nil {
		return nil, fmt.Errorf("client: decoding %s: %w", md.ID, err)
	}
	return data, nil
}

// ReadRange writes length bytes of the blob from offset on to w. It streams only the
// systematic primary slivers that hold the range (each verified), as Read does; if one of them
// cannot be fetched it reads the whole blob instead. Like Walrus's range reads it skips the
// whole-blob consistency check, unless opts asks for ConsistencyStrict: then the whole blob is
// read and checked first.
func (c *Client) ReadRange(ctx context.Context, id blob.ID, offset, length uint64, w io.Writer, opts ...ReadOptions) error {
	o, err := readOptions(opts)
	if err != nil {
		return err
	}
	_, err = c.retryStale(ctx, func() (*committeeView, int64, error) {
		v, md, err := c.readSetup(ctx, id)
		if err != nil {
			return v, 0, err
		}
		size := md.Metadata.UnencodedLength
		if offset > size || length > size-offset {
			return nil, 0, fmt.Errorf("%w: %d bytes at %d of a %d-byte blob", ErrInvalidRange, length, offset, size)
		}
		return c.readN(ctx, v, md, offset, length, w, o.Consistency)
	})
	return err
}

// readN is read, returning the view too.
func (c *Client) readN(ctx context.Context, v *committeeView, md *blob.MetadataWithID, offset, length uint64, w io.Writer, check ConsistencyCheck) (*committeeView, int64, error) {
	n, err := c.read(ctx, v, md, offset, length, w, check)
	return v, n, err
}

// rowResult is one fetched and verified systematic primary sliver (row) of a streamed read.
type rowResult struct {
	data []byte // the row's bytes (the sliver's data)
	buf  *[]byte
}

// errStalled: a node did not deliver a sliver in time (see stallAfter).
var errStalled = errors.New("no answer in time")

// stallAfter is how long a streamed read waits for the next row before it gives up on its node
// and decodes from the fastest nodes instead: ten times the median time a row took so far, and
// at least ReadStallTimeout.
func (c *Client) stallAfter(took []time.Duration) time.Duration {
	d := c.comm.ReadStallTimeout
	if len(took) > 0 {
		s := slices.Clone(took)
		slices.Sort(s)
		d = max(d, 10*s[len(s)/2])
	}
	return d
}

// stream writes bytes [offset, offset+length) of the blob to w from its systematic primary
// slivers (sliver r is bytes [r*rowLen, (r+1)*rowLen) of the blob), fetched in order by a
// fan-out job at most MaxConcurrentSliverReads rows ahead of the one being written and at
// most MaxNodeConnections from one node. When a row cannot be fetched or does not verify, the
// rest comes from a full decode (readWithMetadata).
func (c *Client) stream(ctx context.Context, v *committeeView, md *blob.MetadataWithID, offset, length uint64, w io.Writer, check ConsistencyCheck) (int64, error) {
	if length == 0 {
		return 0, nil
	}
	ss, err := md.Metadata.SymbolSize(v.params)
	if err != nil {
		return 0, fmt.Errorf("client: %w", err)
	}
	rowLen := uint64(v.params.SecondarySource) * uint64(ss)
	first, last := int(offset/rowLen), int((offset+length-1)/rowLen)

	// The member holding each row: primary sliver r is pair r.
	n := v.c.NShards
	var tasks []fanout.Task
	for i, m := range v.c.Members {
		if v.nodes[i] == nil {
			continue
		}
		for _, sh := range m.Shards {
			if p := blob.PairIndex(md.ID, n, int(sh)); p >= first && p <= last {
				tasks = append(tasks, fanout.Task{Node: i, Key: p, Prio: p, Weight: 1})
			}
		}
	}
	holder := make(map[int]int, len(tasks))
	for _, t := range tasks {
		holder[t.Key] = t.Node
	}
	job := fanout.Start(ctx, fanout.Config{Nodes: len(v.nodes), Limit: max(1, c.comm.MaxConcurrentSliverReads),
		PerNode: max(1, c.comm.MaxNodeConnections), Ordered: true, Hold: true,
		Discard: func(x any) { c.rowBufs.put(x.(rowResult).buf) }},
		tasks, func(ctx context.Context, i int, ts []fanout.Task) (rowResult, error) {
			buf := c.rowBufs.get()
			sl, err := v.nodes[i].Sliver(ctx, v.enc, md, ts[0].Key, redstuff.Primary, buf)
			if err != nil {
				c.rowBufs.put(buf)
				return rowResult{}, err
			}
			return rowResult{data: sl.Data, buf: buf}, nil
		})
	fetched := map[int]*fanout.Result[rowResult]{}
	// stop ends the job and returns the buffers of the rows fetched but not written.
	stop := func() {
		job.Stop()
		for _, r := range fetched {
			c.rowBufs.put(r.Value.buf)
		}
		clear(fetched)
	}
	defer stop()

	var written int64
	var took []time.Duration
	for r := first; r <= last; r++ {
		var rowErr error
		if _, ok := holder[r]; !ok {
			rowErr = fmt.Errorf("no reachable node holds primary sliver %d", r)
		}
		wait := c.stallAfter(took)
		deadline := time.Now().Add(wait)
		for rowErr == nil && fetched[r] == nil {
			res, err := job.Next(deadline)
			switch {
			case errors.Is(err, fanout.ErrTimeout):
				rowErr = fmt.Errorf("primary sliver %d: %w after %v", r, errStalled, wait)
				v.nodes[holder[r]].Logger().Warn("node did not deliver a sliver in time; reading from the fastest nodes", "blob", md.ID, "sliver", r, "waited", wait)
			case err != nil && ctx.Err() != nil:
				return written, ctx.Err()
			case err != nil:
				rowErr = fmt.Errorf("primary sliver %d: %w", r, err)
			default:
				t := res.Tasks[0]
				if alt, ok := v.previousOwner(md.ID, t, res.Node); ok && res.Err != nil {
					// The new owner does not serve it (yet): ask the previous one, in turn.
					v.nodes[res.Node].Logger().Debug("sliver not served by its new owner; asking its previous owner", "blob", md.ID, "sliver", t.Key, "err", res.Err)
					holder[t.Key] = alt.Node
					job.Release()
					job.Move(alt)
					continue
				}
				fetched[t.Key] = res
			}
		}
		res := fetched[r]
		if rowErr == nil && res.Err != nil {
			rowErr = res.Err
		}
		if rowErr != nil {
			if ctx.Err() != nil {
				return written, ctx.Err()
			}
			c.log.Info("systematic sliver unavailable; decoding from any primary slivers", "blob", md.ID, "sliver", r, "err", rowErr)
			stop()
			if c.spills(md.Metadata.UnencodedLength) {
				k, err := c.readSpilled(ctx, v, md, offset+uint64(written), offset+length, w, check)
				return written + k, err
			}
			data, err := c.readWithMetadata(ctx, v, md, check)
			if err != nil {
				return written, err
			}
			k, err := w.Write(data[offset+uint64(written) : offset+length])
			written += int64(k)
			if err != nil {
				return written, fmt.Errorf("client: writing the blob: %w", err)
			}
			return written, nil
		}
		delete(fetched, r)
		took = append(took, res.Took)
		rowStart := uint64(r) * rowLen
		lo := max(offset, rowStart) - rowStart
		hi := min(offset+length, rowStart+rowLen) - rowStart
		k, err := w.Write(res.Value.data[lo:hi])
		written += int64(k)
		c.rowBufs.put(res.Value.buf)
		job.Release()
		if err != nil {
			return written, fmt.Errorf("client: writing the blob: %w", err)
		}
	}
	return written, nil
}

// BlobSize returns the unencoded length of a certified blob, from its verified metadata.
func (c *Client) BlobSize(ctx context.Context, id blob.ID) (uint64, error) {
	st, err := c.readable(ctx, id)
	if err != nil {
		return 0, err
	}
	var size uint64
	_, err = c.retryStale(ctx, func() (*committeeView, int64, error) {
		v, err := c.committee(ctx, false)
		if err != nil {
			return nil, 0, err
		}
		md, err := c.fetchMetadata(ctx, v.forBlob(st), id)
		if err != nil {
			return v, 0, err
		}
		size = md.Metadata.UnencodedLength
		return v, 0, nil
	})
	return size, err
}

// readable returns the status of a blob that is certified and live, or an error.
func (c *Client) readable(ctx context.Context, id blob.ID) (*cpapi.BlobStatus, error) {
	st, err := c.cp.BlobStatus(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("client: blob status: %w", err)
	}
	switch {
	case st.Status == cpapi.StatusInvalid:
		return nil, fmt.Errorf("%w: %s", ErrBlobInvalid, id)
	case st.Status == cpapi.StatusPermanent && st.IsCertified, st.DeletableCounts.Certified > 0:
		return st, nil
	case st.Status == cpapi.StatusNonexistent:
		return nil, fmt.Errorf("%w: %s", ErrBlobNotFound, id)
	default:
		return nil, fmt.Errorf("%w: %s is registered but not certified", ErrBlobNotFound, id)
	}
}

// fetchMetadata returns the blob's verified metadata: from the cache of recently read blobs,
// else the first metadata that verifies, asking at most MaxConcurrentMetadataReads nodes at
// once, fastest first.
func (c *Client) fetchMetadata(ctx context.Context, v *committeeView, id blob.ID) (*blob.MetadataWithID, error) {
	if md := c.mdCache.get(id, v.c.NShards); md != nil {
		return md, nil
	}
	md, err := c.fetchMetadataFromNodes(ctx, v, id)
	if err == nil {
		c.mdCache.put(md, v.c.NShards)
	}
	return md, err
}

func (c *Client) fetchMetadataFromNodes(ctx context.Context, v *committeeView, id blob.ID) (*blob.MetadataWithID, error) {
	var tasks []fanout.Task
	for i, n := range v.nodes {
		if n != nil {
			tasks = append(tasks, fanout.Task{Node: i, Key: i, Weight: 1})
		}
	}
	job := fanout.Start(ctx, fanout.Config{Nodes: len(v.nodes), Scores: v.scores(), Limit: c.comm.MaxConcurrentMetadataReads, Need: 1},
		tasks, func(ctx context.Context, i int, _ []fanout.Task) (*blob.MetadataWithID, error) {
			return v.nodes[i].Metadata(ctx, id, v.params)
		})
	defer job.Stop()
	var (
		notFound int
		errs     []error
	)
	var jerr error
	for res := range job.Results(&jerr) {
		switch {
		case res.Err == nil:
			return res.Value, nil
		case errors.Is(res.Err, nodeclient.ErrMetadataNotFound):
			notFound += v.weights[res.Node]
		case errors.Is(res.Err, ErrBadNode):
			v.nodes[res.Node].Logger().Warn("node served invalid metadata; skipped", "blob", id, "err", res.Err)
		}
		errs = append(errs, res.Err)
	}
	if jerr != nil {
		return nil, jerr
	}
	if notFound >= v.params.Quorum() {
		return nil, fmt.Errorf("%w: %s: no metadata on nodes holding %d shards", ErrBlobNotFound, id, notFound)
	}
	return nil, fmt.Errorf("%w: %s: %w", ErrNoMetadata, id, errors.Join(errs...))
}

// moveToPrevious moves the tasks that node could not serve to their shards' previous owners
// (in a read view during an epoch change); it returns how many it moved.
func moveToPrevious[T any](job *fanout.Job[T], v *committeeView, id blob.ID, node int, ts []fanout.Task) int {
	moved := 0
	for _, t := range ts {
		if alt, ok := v.previousOwner(id, t, node); ok {
			job.Move(alt)
			moved++
		}
	}
	return moved
}

// fetchPrimary fetches verified primary slivers until need distinct ones are in (a frugal
// fan-out job: no more requests in flight than slivers still needed, unless some stall). If
// want is not nil those sliver indices are preferred: the others are asked only in place of
// planned ones that fail or stall. Systematic slivers (pair index <
// K_p) go first, then the nodes expected to answer first; at most MaxNodeConnections
// requests per node and MaxConcurrentSliverReads in all.
//
// If keep is not nil each verified sliver is handed to keep as it arrives, in the fetching
// goroutine, and returned without its data (its buffer is reused): at most limit slivers are
// then in memory (limit <= 0: MaxConcurrentSliverReads). A keep error ends the fetch with it.
func (c *Client) fetchPrimary(ctx context.Context, v *committeeView, md *blob.MetadataWithID, want map[int]bool, need int,
	keep func(redstuff.Sliver) error, limit int) ([]redstuff.Sliver, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var keepErr atomic.Pointer[error]
	if limit <= 0 {
		limit = c.comm.MaxConcurrentSliverReads
	}
	n := v.c.NShards
	var tasks []fanout.Task
	for i, m := range v.c.Members {
		if v.nodes[i] == nil {
			continue
		}
		var pairs []int
		for _, sh := range m.Shards {
			pairs = append(pairs, blob.PairIndex(md.ID, n, int(sh)))
		}
		slices.Sort(pairs)
		for _, p := range pairs {
			prio := 1
			if p < v.params.PrimarySource { // systematic: decoding them is a copy
				prio = 0
			}
			if want != nil && !want[p] {
				// Not in the plan: asked only when a planned sliver's node fails or stalls
				// past ReadStallTimeout (the job hedges with the next task), so that a
				// planned node that accepts and never answers cannot hold the read.
				prio = 2
			}
			tasks = append(tasks, fanout.Task{Node: i, Key: p, Prio: prio, Weight: 1})
		}
	}
	job := fanout.Start(ctx, fanout.Config{Nodes: len(v.nodes), Scores: v.scores(), Limit: limit,
		PerNode: c.comm.MaxNodeConnections, Need: need, Frugal: true, Hedge: func() time.Duration { return c.comm.ReadStallTimeout }},
		tasks, func(ctx context.Context, i int, ts []fanout.Task) (redstuff.Sliver, error) {
			if keep == nil {
				return v.nodes[i].Sliver(ctx, v.enc, md, ts[0].Key, redstuff.Primary, nil)
			}
			buf := c.rowBufs.get()
			defer c.rowBufs.put(buf)
			sl, err := v.nodes[i].Sliver(ctx, v.enc, md, ts[0].Key, redstuff.Primary, buf)
			if err != nil {
				return redstuff.Sliver{}, err
			}
			if err := keep(sl); err != nil {
				keepErr.CompareAndSwap(nil, &err)
				cancel()
				return redstuff.Sliver{}, err
			}
			sl.Data = nil
			return sl, nil
		})
	defer job.Stop()
	got := map[int]redstuff.Sliver{}
	var (
		notFound int
		errs     []error
		retries  = map[int]int{}
	)
	var jerr error
	for res := range job.Results(&jerr) {
		i, t := res.Node, res.Tasks[0]
		var ne *NodeError
		switch err := res.Err; {
		case err == nil:
			if _, dup := got[res.Value.Index]; !dup {
				got[res.Value.Index] = res.Value
				job.Add(1)
			}
			continue
		case errors.Is(err, ErrBadNode):
			v.nodes[i].Logger().Warn("node served an invalid sliver; skipping the node", "blob", md.ID, "sliver", t.Key, "err", err)
			// Never trust this node again in this read; its shards' previous owners may serve.
			moveToPrevious(job, v, md.ID, i, append(job.Drop(i), t))
		case errors.As(err, &ne) && ne.Status == 0:
			v.nodes[i].Logger().Debug("sliver fetch failed", "blob", md.ID, "sliver", t.Key, "err", err)
			moveToPrevious(job, v, md.ID, i, append(job.Drop(i), t)) // unreachable
		case errors.As(err, &ne) && ne.NotFound():
			if moveToPrevious(job, v, md.ID, i, []fanout.Task{t}) > 0 {
				continue // the new owner does not hold it (yet)
			}
			notFound++
		case errors.As(err, &ne) && ne.Retryable() && retries[t.Key] < 2:
			retries[t.Key]++
			job.Requeue(t)
			continue
		}
		errs = append(errs, res.Err)
	}
	if err := keepErr.Load(); err != nil {
		return nil, *err
	}
	if jerr != nil {
		return nil, jerr
	}
	if len(got) >= need {
		out := make([]redstuff.Sliver, 0, len(got))
		for _, sl := range got {
			out = append(out, sl)
		}
		return out, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if notFound >= v.params.Quorum() {
		return nil, fmt.Errorf("%w: %s: slivers missing on nodes holding %d shards", ErrBlobNotFound, md.ID, notFound)
	}
	return nil, fmt.Errorf("%w: %s: %d of %d verified slivers: %w", ErrNotEnoughSlivers, md.ID, len(got), need, errors.Join(errs...))
}
