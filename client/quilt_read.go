package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/nodeclient"
	"github.com/floelabs/floe/quilt"
	"github.com/floelabs/floe/redstuff"
)

// quiltReader reads columns (secondary slivers) of one quilt, each once, and falls back to
// reading the whole quilt when a column can be neither fetched nor recovered.
type quiltReader struct {
	c  *Client
	v  *committeeView
	md *blob.MetadataWithID
	l  quilt.Layout
	// holder maps each shard to the member that holds it.
	holder map[int]int

	mu    sync.Mutex
	cols  map[int][]byte
	full  *quilt.Quilt
	stats QuiltReadStats
}

// openQuilt checks that the quilt is readable and fetches its verified metadata. While an
// epoch change is in progress the reader falls back on the shards' previous owners for a
// quilt certified before it (committeeView.forBlob). It returns the view it used, also when
// the metadata fetch fails (for retryStale).
func (c *Client) openQuilt(ctx context.Context, id blob.ID) (*committeeView, *quiltReader, error) {
	st, err := c.readable(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	v, err := c.committee(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	v = v.forBlob(st)
	cached := c.mdCache.get(id, v.c.NShards) != nil
	md, err := c.fetchMetadata(ctx, v, id)
	if err != nil {
		return v, nil, err
	}
	l, err := quilt.LayoutForBlob(v.c.NShards, md.Metadata.UnencodedLength)
	if err != nil {
		return v, nil, fmt.Errorf("%w: %s: %w", ErrNotQuilt, id, err)
	}
	r := &quiltReader{c: c, v: v, md: md, l: l, holder: map[int]int{}, cols: map[int][]byte{}}
	if !cached {
		r.stats.MetadataBytes = int64(md.BCSSize())
	}
	for i, m := range v.c.Members {
		for _, sh := range m.Shards {
			r.holder[int(sh)] = i
		}
	}
	return v, r, nil
}

// readQuilt opens the quilt and runs read with its reader; if that fails for want of slivers
// or metadata and the committee has moved to a later epoch since, it opens the quilt again
// with the current committee and runs read once more (see retryStale). It returns the stats
// of every reader it used.
func (c *Client) readQuilt(ctx context.Context, id blob.ID, read func(*quiltReader) error) (QuiltReadStats, error) {
	var stats QuiltReadStats
	_, err := c.retryStale(ctx, func() (*committeeView, int64, error) {
		v, r, err := c.openQuilt(ctx, id)
		if err != nil {
			return v, 0, err
		}
		err = read(r)
		stats.add(r.stats)
		return v, 0, err
	})
	return stats, err
}

// index reads and decodes the quilt's index from its first columns.
func (r *quiltReader) index(ctx context.Context) (*quilt.Index, error) {
	cols, err := r.columns(ctx, []int{0})
	if err != nil {
		return r.fullIndex(ctx, err)
	}
	k, err := quilt.IndexColumns(r.l, cols[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotQuilt, r.md.ID, err)
	}
	idx := make([]int, k)
	for i := range idx {
		idx[i] = i
	}
	if cols, err = r.columns(ctx, idx); err != nil {
		return r.fullIndex(ctx, err)
	}
	ix, err := quilt.DecodeIndex(r.l, cols)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotQuilt, r.md.ID, err)
	}
	return ix, nil
}

func (r *quiltReader) fullIndex(ctx context.Context, cause error) (*quilt.Index, error) {
	q, err := r.fullRead(ctx, cause)
	if err != nil {
		return nil, err
	}
	return q.Index, nil
}

// patch reads the patch in columns [id.Start, id.End).
func (r *quiltReader) patch(ctx context.Context, id quilt.InternalID) (*quilt.Patch, error) {
	if int(id.End) > r.l.Columns || id.Start >= id.End {
		return nil, fmt.Errorf("%w: quilt %s has %d columns, the patch ID names [%d, %d)", ErrQuiltPatchNotFound, r.md.ID, r.l.Columns, id.Start, id.End)
	}
	cols, err := r.columns(ctx, id.SliverIndices())
	if err != nil {
		q, ferr := r.fullRead(ctx, err)
		if ferr != nil {
			return nil, ferr
		}
		cols = q.Columns(int(id.Start), int(id.End))
	}
	p, err := quilt.DecodePatch(r.l, cols)
	if err != nil {
		return nil, fmt.Errorf("%w: %s columns [%d, %d): %w", ErrNotQuilt, r.md.ID, id.Start, id.End, err)
	}
	return p, nil
}

// fullRead reads and decodes the whole quilt (once), after cause made reading columns fail.
func (r *quiltReader) fullRead(ctx context.Context, cause error) (*quilt.Quilt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.full != nil {
		return r.full, nil
	}
	r.c.log.Info("quilt columns unavailable; reading the whole quilt", "quilt", r.md.ID, "err", cause)
	data, err := r.c.readWithMetadata(ctx, r.v, r.md, ConsistencyDefault)
	if err != nil {
		return nil, fmt.Errorf("%w (after: %w)", err, cause)
	}
	q, err := quilt.Decode(r.v.c.NShards, data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotQuilt, r.md.ID, err)
	}
	r.full, r.stats.FullRead = q, true
	return q, nil
}

// columns returns the columns idx, fetching those not read yet, at most
// MaxConcurrentSliverReads at once.
func (r *quiltReader) columns(ctx context.Context, idx []int) ([][]byte, error) {
	out := make([][]byte, len(idx))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, r.c.comm.MaxConcurrentSliverReads))
	for i, col := range idx {
		r.mu.Lock()
		data, ok := r.cols[col]
		if !ok && r.full != nil {
			data, ok = r.full.Column(col), true
		}
		r.mu.Unlock()
		if ok {
			out[i] = data
			continue
		}
		g.Go(func() error {
			data, err := r.column(gctx, col)
			if err != nil {
				return err
			}
			r.mu.Lock()
			r.cols[col] = data
			r.mu.Unlock()
			out[i] = data
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// column fetches secondary sliver col from the node holding it, verified against the
// metadata, and while an epoch change is in progress from the shard's previous owner if the
// new owner does not serve it (it may not hold the quilt yet); or it rebuilds the column
// from other nodes' recovery symbols: when the fetches fail, or when they have not answered
// within ReadStallTimeout (then whichever finishes first wins).
func (r *quiltReader) column(ctx context.Context, col int) ([]byte, error) {
	p := r.v.params
	pair := p.PairIndex(redstuff.Secondary, col)
	shard := blob.ShardIndex(r.md.ID, p.NShards, pair)
	skip := -1 // the owner, which recovery need not ask
	var from []int
	if m, ok := r.holder[shard]; ok {
		skip = m
		if r.v.nodes[m] != nil {
			from = append(from, m)
		}
	}
	if r.v.prevHolder != nil {
		if j := r.v.prevHolder[shard]; j >= 0 && j != skip && r.v.nodes[j] != nil {
			from = append(from, j)
		}
	}
	if len(from) == 0 {
		data, err := r.recoverColumn(ctx, col, -1)
		if err != nil {
			return nil, fmt.Errorf("client: quilt %s column %d: no reachable node holds pair %d; recovery: %w", r.md.ID, col, pair, err)
		}
		return data, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		data []byte
		n    int
		err  error
	}
	fetched := make(chan result, 1)
	go func() {
		data, n, err := r.fetchFrom(ctx, from, pair, col)
		fetched <- result{data, n, err}
	}()
	var recovered chan result
	startRecovery := func() {
		recovered = make(chan result, 1)
		go func() {
			data, err := r.recoverColumn(ctx, col, skip)
			recovered <- result{data: data, err: err}
		}()
	}
	stall := time.NewTimer(r.c.comm.ReadStallTimeout)
	defer stall.Stop()
	var fetchErr, recErr error
	for fetchErr == nil || recErr == nil {
		select {
		case res := <-fetched:
			fetched = nil
			if res.err == nil {
				r.mu.Lock()
				r.stats.Columns++
				r.stats.SliverBytes += int64(res.n)
				r.mu.Unlock()
				return res.data, nil
			}
			fetchErr = res.err
			if recovered == nil {
				startRecovery()
			}
		case <-stall.C:
			if recovered == nil {
				r.v.nodes[from[0]].Logger().Info("quilt column not served in time; recovering it from other nodes too", "quilt", r.md.ID, "column", col, "waited", r.c.comm.ReadStallTimeout)
				startRecovery()
			}
		case res := <-recovered:
			recovered = nil
			if res.err == nil {
				return res.data, nil
			}
			recErr = res.err // the fetch may still answer
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return nil, fmt.Errorf("client: quilt %s column %d: %w; recovery: %w", r.md.ID, col, fetchErr, recErr)
}

// fetchFrom fetches secondary sliver col (in pair pair) from the members from, in turn, until
// one serves it verified; a column served by any but the first counts as FromPrevious.
func (r *quiltReader) fetchFrom(ctx context.Context, from []int, pair, col int) ([]byte, int, error) {
	var errs []error
	for k, m := range from {
		data, n, err := r.fetchColumn(ctx, m, pair, col)
		if err == nil {
			if k > 0 {
				r.mu.Lock()
				r.stats.FromPrevious++
				r.mu.Unlock()
			}
			return data, n, nil
		}
		errs = append(errs, err)
		switch {
		case ctx.Err() != nil:
			return nil, 0, errors.Join(errs...)
		case errors.Is(err, ErrBadNode):
			r.v.nodes[m].Logger().Warn("node served an invalid quilt column", "quilt", r.md.ID, "column", col, "err", err)
		case k+1 < len(from):
			r.v.nodes[m].Logger().Debug("quilt column not served by its new owner; asking its previous owner", "quilt", r.md.ID, "column", col, "err", err)
		}
	}
	return nil, 0, errors.Join(errs...)
}

// fetchColumn fetches secondary sliver col (in pair pair) from member m, verified against the
// metadata, and returns its data and the size of the answer.
func (r *quiltReader) fetchColumn(ctx context.Context, m, pair, col int) ([]byte, int, error) {
	// One attempt: a column the node cannot serve at once is rebuilt from other nodes.
	sl, err := r.v.nodes[m].Sliver(ctx, r.v.enc, r.md, pair, redstuff.Secondary, nil)
	if err != nil {
		return nil, 0, err
	}
	if sl.Index != col {
		return nil, 0, fmt.Errorf("%w: node %s: secondary sliver %d instead of %d", ErrBadNode, r.v.nodes[m].Name(), sl.Index, col)
	}
	return sl.Data, blob.SliverDataSize(sl), nil
}

// recoverColumn rebuilds secondary sliver col from K_p verified recovery symbols (symbol col of
// distinct primary slivers), asking the nodes other than skip for the symbols of the primary
// slivers they hold, fastest first, a few at once, until enough are in.
func (r *quiltReader) recoverColumn(ctx context.Context, col, skip int) ([]byte, error) {
	p := r.v.params
	n := p.NShards
	need := p.SymbolCount(redstuff.Secondary)
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	scores := r.v.scores()
	// The current committee's members only: during an epoch change a node serves recovery
	// symbols only of the shards it owns now (a read view appends the previous committee's
	// other members to nodes).
	var order []int
	for i := range r.v.c.Members {
		if i != skip && r.v.nodes[i] != nil {
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(scores[a], scores[b]) })
	var (
		mu    sync.Mutex
		got   = map[int]redstuff.RecoverySymbol{}
		bytes int64
		errs  []error
	)
	busyRetry := r.c.retryPolicy()
	busyRetry.Retryable = func(err error) bool { return errors.Is(err, nodeclient.ErrBusy) }
	var g errgroup.Group
	g.SetLimit(4)
	for _, i := range order {
		mu.Lock()
		enough := len(got) >= need
		mu.Unlock()
		if enough {
			break
		}
		g.Go(func() error {
			if ctx.Err() != nil {
				return nil
			}
			node := r.v.nodes[i]
			var ids []blob.SymbolID
			for _, sh := range r.v.c.Members[i].Shards {
				row := blob.PairIndex(r.md.ID, n, int(sh)) // primary sliver row is pair row
				ids = append(ids, blob.SymbolID{Primary: uint16(row), Secondary: uint16(col)})
			}
			// A node that is busy (it serves a few symbol requests at once) is asked again
			// after a backoff: when only K_p primary slivers are left, every one counts.
			var syms []redstuff.RecoverySymbol
			err := busyRetry.Do(ctx, func() error {
				var err error
				syms, err = node.RecoverySymbols(ctx, r.v.enc, r.md, ids, redstuff.Primary)
				return err
			})
			var size int
			if err == nil {
				b, merr := blob.MarshalGeneralRecoverySymbols(syms)
				size = len(b) // the size of the node's answer
				err = merr
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if errors.Is(err, ErrBadNode) {
					node.Logger().Warn("node served invalid recovery symbols", "quilt", r.md.ID, "column", col, "err", err)
				}
				errs = append(errs, err)
				return nil
			}
			bytes += int64(size)
			for _, s := range syms {
				if s.Target == redstuff.Secondary && s.TargetIndex == col {
					got[s.SourceIndex] = s
				}
			}
			if len(got) >= need {
				cancel()
			}
			return nil
		})
	}
	g.Wait()
	r.mu.Lock()
	r.stats.SymbolBytes += bytes
	r.mu.Unlock()
	if len(got) < need {
		if err := parent.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %d of %d recovery symbols: %w", ErrNotEnoughSlivers, len(got), need, errors.Join(errs...))
	}
	syms := make([]redstuff.RecoverySymbol, 0, len(got))
	for _, s := range got {
		syms = append(syms, s)
	}
	sl, _, err := r.v.enc.RecoverSliver(redstuff.Secondary, col, r.l.SymbolSize, syms, r.md.Metadata.Hashes)
	if err != nil {
		return nil, fmt.Errorf("client: recovering column %d of %s: %w", col, r.md.ID, err)
	}
	r.mu.Lock()
	r.stats.Columns++
	r.stats.Recovered++
	r.mu.Unlock()
	return sl.Data, nil
}
