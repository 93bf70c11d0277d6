package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/redstuff"
)

// Read reads a blob and writes it to w (spec §11.4): it checks that the blob is certified,
// fetches verified metadata, fetches primary slivers from the fastest nodes first until K_p
// distinct slivers verified, decodes them with the default consistency check and writes the
// blob. It returns the number of bytes written.
func (c *Client) Read(ctx context.Context, id blob.ID, w io.Writer) (int64, error) {
	data, err := c.ReadBytes(ctx, id)
	if err != nil {
		return 0, err
	}
	n, err := w.Write(data)
	if err != nil {
		return int64(n), fmt.Errorf("client: writing the blob: %w", err)
	}
	return int64(n), nil
}

// ReadBytes reads a blob into memory (see Read).
func (c *Client) ReadBytes(ctx context.Context, id blob.ID) ([]byte, error) {
	if err := c.checkReadable(ctx, id); err != nil {
		return nil, err
	}
	v, err := c.committee(ctx, false)
	if err != nil {
		return nil, err
	}
	md, err := c.fetchMetadata(ctx, v, id)
	if err != nil {
		return nil, err
	}
	return c.readWithMetadata(ctx, v, md)
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

// ReadRange writes length bytes of the blob from offset on to w. It fetches only the
// systematic primary slivers that hold the range (each verified); if some of them cannot be
// fetched it reads the whole blob instead. Like Walrus's range reads it skips the whole-blob
// consistency check.
func (c *Client) ReadRange(ctx context.Context, id blob.ID, offset, length uint64, w io.Writer) error {
	if err := c.checkReadable(ctx, id); err != nil {
		return err
	}
	v, err := c.committee(ctx, false)
	if err != nil {
		return err
	}
	md, err := c.fetchMetadata(ctx, v, id)
	if err != nil {
		return err
	}
	size := md.Metadata.UnencodedLength
	if offset > size || length > size-offset {
		return fmt.Errorf("%w: %d bytes at %d of a %d-byte blob", ErrInvalidRange, length, offset, size)
	}
	if length == 0 {
		return nil
	}
	ss, err := md.Metadata.SymbolSize(v.params)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	rowLen := uint64(v.params.SecondarySource) * uint64(ss)
	first, last := int(offset/rowLen), int((offset+length-1)/rowLen)
	want := map[int]bool{}
	for r := first; r <= last; r++ {
		want[r] = true
	}
	slivers, err := c.fetchPrimary(ctx, v, md, want, len(want))
	if err != nil {
		if !errors.Is(err, ErrNotEnoughSlivers) {
			return err
		}
		c.log.Info("range read: systematic slivers missing; reading the whole blob", "blob", id, "err", err)
		data, err := c.readWithMetadata(ctx, v, md)
		if err != nil {
			return err
		}
		if _, err := w.Write(data[offset : offset+length]); err != nil {
			return fmt.Errorf("client: writing the range: %w", err)
		}
		return nil
	}
	byIndex := map[int][]byte{}
	for _, s := range slivers {
		byIndex[s.Index] = s.Data
	}
	for r := first; r <= last; r++ {
		rowStart := uint64(r) * rowLen
		lo := max(offset, rowStart) - rowStart
		hi := min(offset+length, rowStart+rowLen) - rowStart
		if _, err := w.Write(byIndex[r][lo:hi]); err != nil {
			return fmt.Errorf("client: writing the range: %w", err)
		}
	}
	return nil
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
	case st.Status == controlplane.StatusInvalid:
		return fmt.Errorf("%w: %s", ErrBlobInvalid, id)
	case st.Status == controlplane.StatusPermanent && st.IsCertified, st.DeletableCounts.Certified > 0:
		return nil
	case st.Status == controlplane.StatusNonexistent:
		return fmt.Errorf("%w: %s", ErrBlobNotFound, id)
	default:
		return fmt.Errorf("%w: %s is registered but not certified", ErrBlobNotFound, id)
	}
}

// fetchMetadata returns the first metadata that verifies, asking at most
// MaxConcurrentMetadataReads nodes at once, fastest first.
func (c *Client) fetchMetadata(ctx context.Context, v *committeeView, id blob.ID) (*blob.MetadataWithID, error) {
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
		perNode: c.comm.MaxNodeConnections, got: map[int]redstuff.Sliver{}, need: need}
	s.cond = sync.NewCond(&s.mu)
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
	// outstanding counts requests in flight over all nodes.
	outstanding int
	notFound    int
	errs        []error
	retries     map[int]int
}

func (s *sliverScheduler) next() (node, pair int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if len(s.got) >= s.need {
			return 0, 0, false
		}
		// Never ask for more than still needed: requests in flight may fill the need.
		if len(s.got)+s.outstanding >= s.need {
			if s.outstanding == 0 {
				return 0, 0, false
			}
			s.cond.Wait()
			continue
		}
		best, busy, bestSys, sysWaiting := -1, false, false, false
		for i, q := range s.queue {
			if len(q) == 0 {
				continue
			}
			sys := q[0] < s.systematic
			if s.inflight[i] >= s.perNode {
				busy = true
				sysWaiting = sysWaiting || sys
				continue
			}
			better := best < 0 || (sys && !bestSys) ||
				(sys == bestSys && s.score[i]*float64(s.inflight[i]+1) < s.score[best]*float64(s.inflight[best]+1))
			if better {
				best, bestSys = i, sys
			}
		}
		// A systematic sliver on a busy node is worth waiting for rather than fetching a
		// non-systematic one now.
		if best >= 0 && (bestSys || !sysWaiting) {
			p := s.queue[best][0]
			s.queue[best] = s.queue[best][1:]
			s.inflight[best]++
			s.outstanding++
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
