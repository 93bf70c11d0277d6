package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/fanout"
	"github.com/floelabs/floe/internal/nodeclient"
	"github.com/floelabs/floe/redstuff"
)

// Client stores and reads blobs. It is safe for concurrent use.
type Client struct {
	cfg  Config
	comm CommunicationConfig
	log  *slog.Logger
	cp   *cpclient.Client
	// chainID is the control plane's chain ID (transactions name it); maxEpochsAhead how far
	// ahead storage may be bought.
	chainID        string
	maxEpochsAhead uint32

	// txMu serialises the wallet's transactions (cpclient tracks one nonce per key).
	txMu sync.Mutex
	// pool holds the verifying clients of the storage nodes and the encoders.
	pool *nodeclient.Pool
	// inflight bounds the upload bytes in flight over all stores.
	inflight *semaphore.Weighted
	// rowBufs recycles the sliver buffers of streamed reads.
	rowBufs bufPool
	// sliverMem keeps the last in-memory store's sliver buffer for the next one.
	sliverMem sliverMemory
	// mdCache holds the verified metadata of recently read blobs.
	mdCache *metadataCache
	// decodes is the measured cost of rebuilding rows (see nearPlan).
	decodes decodeCost

	mu     sync.Mutex
	view   *committeeView
	viewAt time.Time
	// refreshMu makes concurrent committeeSince calls share one fetch.
	refreshMu sync.Mutex
}

// committeeView is a committee with the connections to its members.
type committeeView struct {
	c       *Committee
	nodes   []*nodeclient.Client // in member order; nil for a member that cannot be reached
	weights []int                // shards per member
	enc     *redstuff.Encoder
	params  redstuff.Params

	// old, while the change to c's epoch is in progress (between EpochChangeStart and
	// EpochChangeDone), is the view that reads of blobs certified before c's epoch use: the
	// new owner of a shard may not hold them yet, its previous owner keeps them until the
	// change is done (spec §7.4). Nil otherwise.
	old *committeeView
	// prevHolder, in such a read view, is for each shard the index in nodes of its owner in
	// the previous committee when that is another node than its current owner, else -1. The
	// previous committee's members that are not in c are appended to nodes (with weight 0).
	prevHolder []int
}

// New connects to the control plane named by cfg and returns a Client.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.ControlPlaneURL == "" {
		return nil, fmt.Errorf("%w: no control plane URL", ErrInvalidConfig)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	comm := cfg.Communication.withDefaults()
	c := &Client{
		cfg: cfg, comm: comm, log: log,
		cp: cpclient.New(cfg.ControlPlaneURL, cfg.HTTPClient),
		pool: nodeclient.NewPool(nodeclient.Options{RootCAs: cfg.RootCAs, HTTP2: comm.HTTP2, MaxConnsPerNode: comm.MaxNodeConnections,
			Timeout: comm.RequestTimeout, BufferSize: 256 << 10, TLSOnLoopback: comm.TLSOnLoopback, Logger: log}),
		inflight: semaphore.NewWeighted(comm.MaxDataInFlight),
		mdCache:  newMetadataCache(comm.MetadataCacheEntries),
	}
	p, err := c.cp.Params(ctx)
	if err != nil {
		return nil, fmt.Errorf("client: control plane parameters: %w", err)
	}
	if cfg.NShards != 0 && cfg.NShards != p.NShards {
		return nil, fmt.Errorf("%w: the network has %d shards, the configuration says %d", ErrInvalidConfig, p.NShards, cfg.NShards)
	}
	c.chainID, c.maxEpochsAhead = p.ChainID, p.MaxEpochsAhead
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.sliverMem.release()
	c.pool.Close()
	return nil
}

// encoder returns the (cached) encoder for n shards.
func (c *Client) encoder(n int) (*redstuff.Encoder, error) { return c.pool.Encoder(n) }

// committee returns the current committee view, fetched again when older than the refresh
// interval or when force is set.
func (c *Client) committee(ctx context.Context, force bool) (*committeeView, error) {
	c.mu.Lock()
	v, at := c.view, c.viewAt
	c.mu.Unlock()
	if v != nil && !force && time.Since(at) < c.comm.CommitteeRefresh {
		return v, nil
	}
	rc, err := c.cp.ReadCommittees(ctx)
	if errors.Is(err, cpclient.ErrNotFound) {
		// No committee, or a control plane without the route: ask for the current one.
		var wcm *cpapi.Committee
		if wcm, err = c.cp.CurrentCommittee(ctx); err == nil {
			rc = &cpapi.ReadCommittees{Current: *wcm}
		}
	}
	if errors.Is(err, cpclient.ErrNotFound) || errors.Is(err, cpclient.ErrNoCommittee) {
		return nil, fmt.Errorf("%w: %w", ErrNoCommittee, err)
	}
	if err != nil {
		return nil, fmt.Errorf("client: committee: %w", err)
	}
	cm := committeeFromAPI(&rc.Current)
	if len(cm.Members) == 0 {
		return nil, fmt.Errorf("%w: epoch %d has no members", ErrNoCommittee, cm.Epoch)
	}
	enc, err := c.encoder(cm.NShards)
	if err != nil {
		return nil, err
	}
	nv := &committeeView{c: cm, enc: enc, params: enc.Params()}
	for _, m := range cm.Members {
		n, err := c.pool.Client(nodeclient.Node{Name: m.Name, Address: m.NetworkAddress, NetworkKey: m.NetworkPublicKey,
			BLSKey: crypto.BLSPublicKey(m.BLSPublicKey)})
		if err != nil {
			// A member whose key cannot be used is unreachable; keep its place.
			c.log.Warn("storage node unusable", "node", m.Name, "addr", m.NetworkAddress, "err", err)
		}
		nv.nodes = append(nv.nodes, n)
		nv.weights = append(nv.weights, len(m.Shards))
	}
	if p := rc.Previous; p != nil && p.Epoch+1 == cm.Epoch && p.NShards == cm.NShards {
		nv.old = c.readView(nv, committeeFromAPI(p))
	}
	c.mu.Lock()
	if c.view == nil || c.view.c.Epoch <= cm.Epoch {
		c.view, c.viewAt = nv, time.Now()
	}
	c.mu.Unlock()
	return nv, nil
}

// committeeSince returns a committee view fetched at or after t: the cached one if it is that
// recent, else a new one. Callers that learn at once that the committee may have changed
// (several nodes answering as of another epoch) share one fetch.
func (c *Client) committeeSince(ctx context.Context, t time.Time) (*committeeView, error) {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	c.mu.Lock()
	v, at := c.view, c.viewAt
	c.mu.Unlock()
	if v != nil && !at.Before(t) {
		return v, nil
	}
	return c.committee(ctx, true)
}

// readView returns the view of reads of blobs certified before v's epoch while the change
// to it is in progress: v's members, then prev's other members, with each shard's previous
// owner (see committeeView.prevHolder).
func (c *Client) readView(v *committeeView, prev *Committee) *committeeView {
	rv := &committeeView{c: v.c, nodes: slices.Clone(v.nodes), weights: slices.Clone(v.weights), enc: v.enc, params: v.params,
		prevHolder: make([]int, v.c.NShards)}
	index := make(map[ObjectID]int, len(v.c.Members))
	owner := make([]int, v.c.NShards)
	for i := range owner {
		owner[i], rv.prevHolder[i] = -1, -1
	}
	for i, m := range v.c.Members {
		index[m.NodeID] = i
		for _, s := range m.Shards {
			if int(s) < len(owner) {
				owner[s] = i
			}
		}
	}
	for _, m := range prev.Members {
		j, ok := index[m.NodeID]
		if !ok {
			n, err := c.pool.Client(nodeclient.Node{Name: m.Name, Address: m.NetworkAddress, NetworkKey: m.NetworkPublicKey,
				BLSKey: crypto.BLSPublicKey(m.BLSPublicKey)})
			if err != nil {
				c.log.Warn("storage node of the previous committee unusable", "node", m.Name, "addr", m.NetworkAddress, "err", err)
			}
			j = len(rv.nodes)
			index[m.NodeID] = j
			rv.nodes, rv.weights = append(rv.nodes, n), append(rv.weights, 0)
		}
		for _, s := range m.Shards {
			if int(s) < len(owner) && owner[s] != j {
				rv.prevHolder[s] = j
			}
		}
	}
	return rv
}

// forBlob returns the view to read a blob of status st from: the read view of the previous
// committee's shards (old) while the epoch change is in progress, unless the blob was
// certified in the current epoch (then the current committee got every sliver).
func (v *committeeView) forBlob(st *cpapi.BlobStatus) *committeeView {
	if v.old == nil || (st != nil && st.InitialCertifiedEpoch != nil && *st.InitialCertifiedEpoch >= v.c.Epoch) {
		return v
	}
	return v.old
}

// previousOwner returns task t of a read (its Key a sliver pair index of blob id), which node
// could not serve, moved to its shard's previous owner: if v is a read view that has one
// other than node.
func (v *committeeView) previousOwner(id blob.ID, t fanout.Task, node int) (fanout.Task, bool) {
	if v.prevHolder == nil {
		return t, false
	}
	j := v.prevHolder[blob.ShardIndex(id, v.c.NShards, t.Key)]
	if j < 0 || j == node || v.nodes[j] == nil {
		return t, false
	}
	t.Node = j
	return t, true
}

// NodeLatency reports the client's smoothed response time of each node it has talked to, by
// node name (for diagnostics).
func (c *Client) NodeLatency() map[string]time.Duration { return c.pool.Latencies() }

// scores returns the expected response time of each member (lower is better), jittered so
// that equal nodes share the load; an unreachable member scores worst.
func (v *committeeView) scores() []float64 {
	out := make([]float64, len(v.nodes))
	for i, n := range v.nodes {
		if n == nil {
			out[i] = 1e9
			continue
		}
		out[i] = n.Latency().Score() * (1 + 0.1*rand.Float64())
	}
	return out
}

// retryPolicy is the retry policy of uploads.
func (c *Client) retryPolicy() nodeclient.RetryPolicy {
	return nodeclient.RetryPolicy{MaxRetries: c.comm.MaxRetries, MinBackoff: c.comm.MinBackoff, MaxBackoff: c.comm.MaxBackoff}
}

// bufPool recycles the buffers of fetched slivers, so that reading a large blob does not
// touch fresh memory for every sliver.
type bufPool struct{ p sync.Pool }

func (bp *bufPool) get() *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return b
	}
	return new([]byte)
}

func (bp *bufPool) put(b *[]byte) {
	if b != nil {
		bp.p.Put(b)
	}
}
