package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

// Read reads a blob and writes it to w (spec §11.4), streaming: it checks that the blob is
// certified, fetches verified metadata, then fetches the systematic primary slivers (each one
// row of the blob) in order, a window of them at a time from the nodes that hold them, verifies
// each against the metadata and writes it as soon as the rows before it are written. Memory
// stays bounded by the window whatever the blob's size. If a systematic sliver cannot be had,
// it falls back to fetching any K_p verified primary slivers from the fastest nodes, decoding
// them with the default consistency check, and writing the rest. It returns the number of
// bytes written.
func (c *Client) Read(ctx context.Context, id blob.ID, w io.Writer) (int64, error) {
	v, md, err := c.readSetup(ctx, id)
	if err != nil {
		return 0, err
	}
	return c.stream(ctx, v, md, 0, md.Metadata.UnencodedLength, w)
}

// ReadBytes reads a blob into memory (see Read).
func (c *Client) ReadBytes(ctx context.Context, id blob.ID) ([]byte, error) {
	v, md, err := c.readSetup(ctx, id)
	if err != nil {
		return nil, err
	}
	buf := bytes.NewBuffer(make([]byte, 0, md.Metadata.UnencodedLength))
	if _, err := c.stream(ctx, v, md, 0, md.Metadata.UnencodedLength, buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readSetup checks that the blob is readable and fetches the committee and verified metadata.
func (c *Client) readSetup(ctx context.Context, id blob.ID) (*committeeView, *blob.MetadataWithID, error) {
	if err := c.checkReadable(ctx, id); err != nil {
		return nil, nil, err
	}
	v, err := c.committee(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	md, err := c.fetchMetadata(ctx, v, id)
	if err != nil {
		return nil, nil, err
	}
	return v, md, nil
}

func (c *Client) readWithMetadata(ctx context.Context, v *committeeView, md *blob.MetadataWithID) ([]byte, error) {
	slivers, err := c.fetchPrimary(ctx, v, md, nil, v.params.PrimarySource)
	if err != nil {
		return nil, err
	}
	data, err := blob.Decode(v.enc, md, slivers)
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
// whole-blob consistency check.
func (c *Client) ReadRange(ctx context.Context, id blob.ID, offset, length uint64, w io.Writer) error {
	v, md, err := c.readSetup(ctx, id)
	if err != nil {
		return err
	}
	size := md.Metadata.UnencodedLength
	if offset > size || length > size-offset {
		return fmt.Errorf("%w: %d bytes at %d of a %d-byte blob", ErrInvalidRange, length, offset, size)
	}
	_, err = c.stream(ctx, v, md, offset, length, w)
	return err
}

// rowResult is one fetched and verified systematic primary sliver (row) of a streamed read.
type rowResult struct {
	data []byte // the row's bytes (the sliver's data)
	buf  *[]byte
	took time.Duration
	err  error
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
// slivers (sliver r is bytes [r*rowLen, (r+1)*rowLen) of the blob), fetching at most
// MaxConcurrentSliverReads rows ahead of the one being written and at most MaxNodeConnections
// from one node. When a row cannot be fetched or does not verify, the rest comes from a full
// decode (readWithMetadata).
func (c *Client) stream(ctx context.Context, v *committeeView, md *blob.MetadataWithID, offset, length uint64, w io.Writer) (int64, error) {
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
	holder := make(map[int]int, last-first+1)
	for i, m := range v.c.Members {
		for _, sh := range m.Shards {
			if p := blob.PairIndex(md.ID, n, int(sh)); p >= first && p <= last {
				holder[p] = i
			}
		}
	}

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	window := make(chan struct{}, max(1, c.comm.MaxConcurrentSliverReads))
	perNode := make([]chan struct{}, len(v.nodes))
	for i := range perNode {
		perNode[i] = make(chan struct{}, max(1, c.comm.MaxNodeConnections))
	}
	results := make([]chan rowResult, last-first+1)
	for i := range results {
		results[i] = make(chan rowResult, 1)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { // dispatch rows in order, at most a window ahead of the writer
		defer wg.Done()
		for r := first; r <= last; r++ {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			m, ok := holder[r]
			if !ok || v.nodes[m] == nil {
				results[r-first] <- rowResult{err: fmt.Errorf("no reachable node holds primary sliver %d", r)}
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case perNode[m] <- struct{}{}:
				case <-ctx.Done():
					results[r-first] <- rowResult{err: ctx.Err()}
					return
				}
				buf := c.rowBufs.get()
				start := time.Now()
				sl, err := v.nodes[m].primarySliverInto(ctx, c.comm.RequestTimeout, v.enc, md, r, buf)
				<-perNode[m]
				if err != nil {
					c.rowBufs.put(buf)
					results[r-first] <- rowResult{err: err}
					return
				}
				results[r-first] <- rowResult{data: sl.Data, buf: buf, took: time.Since(start)}
			}()
		}
	}()

	var written int64
	var took []time.Duration
	for r := first; r <= last; r++ {
		var res rowResult
		wait := c.stallAfter(took)
		stall := time.NewTimer(wait)
		select {
		case res = <-results[r-first]:
		case <-stall.C:
			res.err = fmt.Errorf("primary sliver %d: %w after %v", r, errStalled, wait)
			if m, ok := holder[r]; ok && v.nodes[m] != nil {
				v.nodes[m].log.Warn("node did not deliver a sliver in time; reading from the fastest nodes", "blob", md.ID, "sliver", r, "waited", wait)
			}
		case <-ctx.Done():
			stall.Stop()
			return written, ctx.Err()
		}
		stall.Stop()
		if res.err == nil {
			took = append(took, res.took)
		}
		if res.err != nil {
			if ctx.Err() != nil {
				return written, ctx.Err()
			}
			c.log.Info("systematic sliver unavailable; decoding from any primary slivers", "blob", md.ID, "sliver", r, "err", res.err)
			cancel()
			wg.Wait()
			c.drain(results)
			data, err := c.readWithMetadata(parent, v, md)
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
		rowStart := uint64(r) * rowLen
		lo := max(offset, rowStart) - rowStart
		hi := min(offset+length, rowStart+rowLen) - rowStart
		k, err := w.Write(res.data[lo:hi])
		written += int64(k)
		c.rowBufs.put(res.buf)
		<-window
		if err != nil {
			cancel()
			wg.Wait()
			c.drain(results)
			return written, fmt.Errorf("client: writing the blob: %w", err)
		}
	}
	return written, nil
}

// drain returns the buffers of rows fetched but not written to the pool.
func (c *Client) drain(results []chan rowResult) {
	for _, ch := range results {
		select {
		case res := <-ch:
			if res.buf != nil {
				c.rowBufs.put(res.buf)
			}
		default:
		}
	}
}

// BlobSize returns the unencoded length of a certified blob, from its verified metadata.
func (c *Client) BlobSize(ctx context.Context, id blob.ID) (uint64, error) {
	if err := c.checkReadable(ctx, id); err != nil {
		return 0, err
	}
	v, err := c.committee(ctx, false)
	if err != nil {
		return 0, err
	}
	md, err := c.fetchMetadata(ctx, v, id)
	if err != nil {
		return 0, err
	}
	return md.Metadata.UnencodedLength, nil
}

// checkReadable asks the control plane whether the blob is certified and live.
func (c *Client) checkReadable(ctx context.Context, id blob.ID) error {
	st, err := c.cp.BlobStatus(ctx, id)
	if err != nil {
		return fmt.Errorf("client: blob status: %w", err)
	}
	switch {
	case st.Status == cpapi.StatusInvalid:
		return fmt.Errorf("%w: %s", ErrBlobInvalid, id)
	case st.Status == cpapi.StatusPermanent && st.IsCertified, st.DeletableCounts.Certified > 0:
		return nil
	case st.Status == cpapi.StatusNonexistent:
		return fmt.Errorf("%w: %s", ErrBlobNotFound, id)
	default:
		return fmt.Errorf("%w: %s is registered but not certified", ErrBlobNotFound, id)
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
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	order := v.byLatency(nil)
	var (
		mu       sync.Mutex
		next     int
		found    *blob.MetadataWithID
		notFound int
		errs     []error
		wg       sync.WaitGroup
	)
	worker := func() {
		defer wg.Done()
		for {
			mu.Lock()
			if found != nil || next >= len(order) {
				mu.Unlock()
				return
			}
			i := order[next]
			next++
			mu.Unlock()
			md, err := v.nodes[i].metadata(ctx, c.comm.RequestTimeout, id, v.params)
			mu.Lock()
			switch {
			case err == nil:
				if found == nil {
					found = md
					cancel()
				}
			case isReason(err, api.ReasonMetadataNotFound):
				notFound += v.weights[i]
				errs = append(errs, err)
			default:
				if errors.Is(err, ErrBadNode) {
					v.nodes[i].log.Warn("node served invalid metadata; skipped", "blob", id, "err", err)
				}
				errs = append(errs, err)
			}
			mu.Unlock()
		}
	}
	for range min(c.comm.MaxConcurrentMetadataReads, len(order)) {
		wg.Add(1)
		go worker()
	}
	wg.Wait()
	if found != nil {
		return found, nil
	}
	if err := parent.Err(); err != nil {
		return nil, err
	}
	if notFound >= v.params.Quorum() {
		return nil, fmt.Errorf("%w: %s: no metadata on nodes holding %d shards", ErrBlobNotFound, id, notFound)
	}
	return nil, fmt.Errorf("%w: %s: %w", ErrNoMetadata, id, errors.Join(errs...))
}

// fetchPrimary fetches verified primary slivers until need distinct ones are in. If want is
// not nil only those sliver indices are fetched. Nodes are asked fastest first, at most
// MaxNodeConnections requests per node and MaxConcurrentSliverReads in all.
func (c *Client) fetchPrimary(ctx context.Context, v *committeeView, md *blob.MetadataWithID, want map[int]bool, need int) ([]redstuff.Sliver, error) {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := v.c.NShards
	s := &sliverScheduler{v: v, queue: make([][]int, len(v.nodes)), inflight: make([]int, len(v.nodes)),
		perNode: c.comm.MaxNodeConnections, got: map[int]redstuff.Sliver{}, need: need,
		stall: c.comm.ReadStallTimeout, started: map[[2]int]time.Time{}}
	s.cond = sync.NewCond(&s.mu)
	// Wake the scheduler now and then, so that it sees requests stall.
	go func() {
		t := time.NewTicker(s.stall / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.cond.Broadcast()
			}
		}
	}()
	total := 0
	for i, m := range v.c.Members {
		if v.nodes[i] == nil {
			continue
		}
		for _, sh := range m.Shards {
			p := blob.PairIndex(md.ID, n, int(sh))
			if want == nil || want[p] {
				s.queue[i] = append(s.queue[i], p)
				total++
			}
		}
	}
	// Systematic primary slivers (pair index < K_p) first: when they all arrive, decoding is a
	// copy, not an erasure decode.
	s.systematic = v.params.PrimarySource
	for i := range s.queue {
		sort.Ints(s.queue[i])
	}
	for i := range s.queue {
		if len(s.queue[i]) > 0 {
			s.score = append(s.score, v.nodes[i].lat.score()*(1+0.1*randFloat()))
		} else {
			s.score = append(s.score, 0)
		}
	}
	var wg sync.WaitGroup
	for range min(c.comm.MaxConcurrentSliverReads, total) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i, p, ok := s.next()
				if !ok {
					return
				}
				sl, err := v.nodes[i].primarySliver(ctx, c.comm.RequestTimeout, v.enc, md, p)
				if err != nil && ctx.Err() == nil {
					if errors.Is(err, ErrBadNode) {
						v.nodes[i].log.Warn("node served an invalid sliver; skipping the node", "blob", md.ID, "sliver", p, "err", err)
					} else {
						v.nodes[i].log.Debug("sliver fetch failed", "blob", md.ID, "sliver", p, "err", err)
					}
				}
				if s.done(i, p, sl, err) {
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	if len(s.got) >= need {
		out := make([]redstuff.Sliver, 0, len(s.got))
		for _, sl := range s.got {
			out = append(out, sl)
		}
		return out, nil
	}
	if err := parent.Err(); err != nil {
		return nil, err
	}
	if s.notFound >= v.params.Quorum() {
		return nil, fmt.Errorf("%w: %s: slivers missing on nodes holding %d shards", ErrBlobNotFound, md.ID, s.notFound)
	}
	return nil, fmt.Errorf("%w: %s: %d of %d verified slivers: %w", ErrNotEnoughSlivers, md.ID, len(s.got), need, errors.Join(s.errs...))
}

// sliverScheduler hands out sliver requests: to the node with the lowest expected wait
// (latency score x (requests in flight + 1)) that has work and a free connection.
type sliverScheduler struct {
	v        *committeeView
	mu       sync.Mutex
	cond     *sync.Cond
	queue    [][]int // pairs still to ask each node for
	inflight []int
	score    []float64
	perNode  int
	got      map[int]redstuff.Sliver
	need     int
	// systematic is K_p: pairs below it hold systematic primary slivers, which are preferred.
	systematic int
	// outstanding counts requests in flight over all nodes; started has their start times.
	outstanding int
	started     map[[2]int]time.Time
	// stall is how long a request may run before more are sent in its stead.
	stall    time.Duration
	notFound int
	errs     []error
	retries  map[int]int
}

func (s *sliverScheduler) next() (node, pair int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if len(s.got) >= s.need {
			return 0, 0, false
		}
		// Never ask for more than still needed: requests in flight may fill the need, unless
		// they stalled.
		live := s.outstanding
		for _, t := range s.started {
			if time.Since(t) > s.stall {
				live--
			}
		}
		if len(s.got)+live >= s.need {
			if s.outstanding == 0 {
				return 0, 0, false
			}
			s.cond.Wait()
			continue
		}
		best, busy, bestSys := -1, false, false
		for i, q := range s.queue {
			if len(q) == 0 {
				continue
			}
			sys := q[0] < s.systematic
			if s.inflight[i] >= s.perNode {
				busy = true
				continue
			}
			better := best < 0 || (sys && !bestSys) ||
				(sys == bestSys && s.score[i]*float64(s.inflight[i]+1) < s.score[best]*float64(s.inflight[best]+1))
			if better {
				best, bestSys = i, sys
			}
		}
		// Systematic slivers first among the nodes free to answer; never wait for a busy node
		// (it may be the slow one) while another can serve a sliver now.
		if best >= 0 {
			p := s.queue[best][0]
			s.queue[best] = s.queue[best][1:]
			s.inflight[best]++
			s.outstanding++
			s.started[[2]int{best, p}] = time.Now()
			return best, p, true
		}
		if !busy {
			return 0, 0, false
		}
		s.cond.Wait()
	}
}

// done records a result and reports whether enough slivers are in.
func (s *sliverScheduler) done(node, pair int, sl redstuff.Sliver, err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.cond.Broadcast()
	s.inflight[node]--
	s.outstanding--
	delete(s.started, [2]int{node, pair})
	var ne *NodeError
	switch {
	case err == nil:
		s.got[sl.Index] = sl
	case errors.Is(err, ErrBadNode):
		s.queue[node] = nil // never trust this node again in this read
		s.errs = append(s.errs, err)
	case errors.As(err, &ne) && ne.Status == 0:
		s.queue[node] = nil // unreachable
		s.errs = append(s.errs, err)
	case errors.As(err, &ne) && ne.notFound():
		s.notFound++
		s.errs = append(s.errs, err)
	case errors.As(err, &ne) && ne.retryable():
		if s.retries == nil {
			s.retries = map[int]int{}
		}
		if s.retries[pair] < 2 {
			s.retries[pair]++
			s.queue[node] = append(s.queue[node], pair)
		} else {
			s.errs = append(s.errs, err)
		}
	default:
		s.errs = append(s.errs, err)
	}
	return len(s.got) >= s.need
}
