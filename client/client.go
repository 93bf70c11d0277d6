package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/nodetls"
	"github.com/floelabs/floe/redstuff"
)

// Client stores and reads blobs. It is safe for concurrent use.
type Client struct {
	cfg  Config
	comm CommunicationConfig
	log  *slog.Logger
	cp   *cpclient.Client
	// chainID is the control plane's chain ID (transactions name it).
	chainID string

	// txMu serialises the wallet's transactions (cpclient tracks one nonce per key).
	txMu sync.Mutex
	// inflight bounds the upload bytes in flight over all stores.
	inflight *weightedSem
	// rowBufs recycles the sliver buffers of streamed reads.
	rowBufs bufPool
	// mdCache holds the verified metadata of recently read blobs.
	mdCache *metadataCache

	mu       sync.Mutex
	view     *committeeView
	viewAt   time.Time
	nodes    map[string]*nodeConn // by address + network key
	encoders map[int]*redstuff.Encoder
}

// committeeView is a committee with the connections to its members.
type committeeView struct {
	c       *Committee
	nodes   []*nodeConn // in member order
	weights []int       // shards per member
	enc     *redstuff.Encoder
	params  redstuff.Params
	// pairsOf caches nothing: pairs depend on the blob ID (see pairsFor).
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
		cp:       cpclient.New(cfg.ControlPlaneURL, cfg.HTTPClient),
		inflight: newWeightedSem(comm.MaxDataInFlight),
		mdCache:  newMetadataCache(comm.MetadataCacheEntries),
		nodes:    map[string]*nodeConn{},
		encoders: map[int]*redstuff.Encoder{},
	}
	p, err := c.cp.Params(ctx)
	if err != nil {
		return nil, fmt.Errorf("client: control plane parameters: %w", err)
	}
	if cfg.NShards != 0 && cfg.NShards != p.NShards {
		return nil, fmt.Errorf("%w: the network has %d shards, the configuration says %d", ErrInvalidConfig, p.NShards, cfg.NShards)
	}
	c.chainID = p.ChainID
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		n.hc.CloseIdleConnections()
	}
	return nil
}

// encoder returns the (cached) encoder for n shards.
func (c *Client) encoder(n int) (*redstuff.Encoder, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.encoders[n]; e != nil {
		return e, nil
	}
	e, err := redstuff.New(n)
	if err != nil {
		return nil, fmt.Errorf("client: encoder for %d shards: %w", n, err)
	}
	c.encoders[n] = e
	return e, nil
}

// committee returns the current committee view, fetched again when older than the refresh
// interval or when force is set.
func (c *Client) committee(ctx context.Context, force bool) (*committeeView, error) {
	c.mu.Lock()
	v, at := c.view, c.viewAt
	c.mu.Unlock()
	if v != nil && !force && time.Since(at) < c.comm.CommitteeRefresh {
		return v, nil
	}
	wcm, err := c.cp.CurrentCommittee(ctx)
	if errors.Is(err, cpclient.ErrNotFound) || errors.Is(err, cpclient.ErrNoCommittee) {
		return nil, fmt.Errorf("%w: %w", ErrNoCommittee, err)
	}
	if err != nil {
		return nil, fmt.Errorf("client: committee: %w", err)
	}
	cm := committeeFromAPI(wcm)
	if len(cm.Members) == 0 {
		return nil, fmt.Errorf("%w: epoch %d has no members", ErrNoCommittee, cm.Epoch)
	}
	enc, err := c.encoder(cm.NShards)
	if err != nil {
		return nil, err
	}
	nv := &committeeView{c: cm, enc: enc, params: enc.Params()}
	for _, m := range cm.Members {
		n, err := c.nodeConn(m)
		if err != nil {
			// A member whose key cannot be used is unreachable; keep its place.
			c.log.Warn("storage node unusable", "node", m.Name, "addr", m.NetworkAddress, "err", err)
		}
		nv.nodes = append(nv.nodes, n)
		nv.weights = append(nv.weights, len(m.Shards))
	}
	c.mu.Lock()
	if c.view == nil || c.view.c.Epoch <= cm.Epoch {
		c.view, c.viewAt = nv, time.Now()
	}
	c.mu.Unlock()
	return nv, nil
}

// nodeConn returns the connection to a member, reusing it across committees while its address
// and network key stay the same.
func (c *Client) nodeConn(m Member) (*nodeConn, error) {
	key := m.NetworkAddress + "|" + string(m.NetworkPublicKey)
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.nodes[key]; n != nil {
		n.name, n.pub = m.Name, crypto.BLSPublicKey(m.BLSPublicKey)
		return n, nil
	}
	host, _, err := net.SplitHostPort(m.NetworkAddress)
	if err != nil {
		return nil, fmt.Errorf("client: node %s address %q: %w", m.Name, m.NetworkAddress, err)
	}
	tc, err := nodetls.ClientConfig(m.NetworkPublicKey, host, c.cfg.RootCAs)
	if err != nil {
		return nil, fmt.Errorf("client: node %s: %w", m.Name, err)
	}
	tr := &http.Transport{
		TLSClientConfig:     tc,
		ForceAttemptHTTP2:   c.comm.HTTP2,
		MaxIdleConnsPerHost: c.comm.MaxNodeConnections,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		WriteBufferSize:     256 << 10,
		ReadBufferSize:      256 << 10,
	}
	if !c.comm.HTTP2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	n := &nodeConn{
		name: m.Name, addr: m.NetworkAddress, base: "https://" + m.NetworkAddress, pub: crypto.BLSPublicKey(m.BLSPublicKey),
		hc: &http.Client{Transport: tr}, log: c.log.With("node", m.Name),
	}
	if n.name == "" {
		n.name = m.NetworkAddress
	}
	c.nodes[key] = n
	return n, nil
}

// ---- latency bookkeeping ----

// latency is a node's smoothed response time, with a penalty for failures.
type latency struct {
	mu    sync.Mutex
	ewma  float64 // seconds; 0 = never measured
	fails int     // consecutive failures
	last  time.Time
}

func (l *latency) observe(d time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = time.Now()
	if !ok {
		l.fails++
		return
	}
	l.fails = 0
	s := d.Seconds()
	if l.ewma == 0 {
		l.ewma = s
	} else {
		l.ewma = 0.8*l.ewma + 0.2*s
	}
}

// score orders nodes for reads: lower is better. Unmeasured nodes rank as fast as the median
// guess (a small constant), failing nodes rank last, a failure fading out after a minute.
func (l *latency) score() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.ewma
	if s == 0 {
		s = 0.005
	}
	if l.fails > 0 && time.Since(l.last) < time.Minute {
		s += float64(l.fails) * 10
	}
	return s
}

// byLatency returns member indices ordered fastest first (ties broken at random so that load
// spreads).
func (v *committeeView) byLatency(skip func(i int) bool) []int {
	type ranked struct {
		i int
		s float64
	}
	var rs []ranked
	for i, n := range v.nodes {
		if n == nil || (skip != nil && skip(i)) {
			continue
		}
		rs = append(rs, ranked{i, n.lat.score() * (1 + 0.1*randFloat())})
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		switch {
		case a.s < b.s:
			return -1
		case a.s > b.s:
			return 1
		}
		return a.i - b.i
	})
	out := make([]int, len(rs))
	for k, r := range rs {
		out[k] = r.i
	}
	return out
}

// NodeLatency reports the client's smoothed response time of each node it has talked to, by
// node name (for diagnostics).
func (c *Client) NodeLatency() map[string]time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]time.Duration{}
	for _, n := range c.nodes {
		n.lat.mu.Lock()
		out[n.name] = time.Duration(n.lat.ewma * float64(time.Second))
		n.lat.mu.Unlock()
	}
	return out
}

// backoff returns the wait before retry attempt (1-based).
func (c *Client) backoff(attempt int) time.Duration {
	d := float64(c.comm.MinBackoff) * math.Pow(2, float64(attempt-1))
	d = min(d, float64(c.comm.MaxBackoff))
	// ±20% jitter.
	d *= 0.8 + 0.4*randFloat()
	return time.Duration(d)
}

// retry runs f until it succeeds, fails with a non-retryable error, or runs out of retries.
func (c *Client) retry(ctx context.Context, f func() error) error {
	var err error
	for attempt := 0; ; attempt++ {
		if err = f(); err == nil || !isRetryable(err) || attempt >= c.comm.MaxRetries || ctx.Err() != nil {
			if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
				err = fmt.Errorf("%w (%w)", ctx.Err(), err)
			}
			return err
		}
		t := time.NewTimer(c.backoff(attempt + 1))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// ---- a weighted semaphore for bytes in flight ----

type weightedSem struct {
	mu    sync.Mutex
	cond  chan struct{}
	cap   int64
	inUse int64
}

func newWeightedSem(n int64) *weightedSem {
	return &weightedSem{cap: n, cond: make(chan struct{})}
}

// acquire takes n (at most the capacity) or fails when ctx ends.
func (s *weightedSem) acquire(ctx context.Context, n int64) (int64, error) {
	n = min(max(n, 1), s.cap)
	for {
		s.mu.Lock()
		if s.inUse+n <= s.cap {
			s.inUse += n
			s.mu.Unlock()
			return n, nil
		}
		ch := s.cond
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-ch:
		}
	}
}

func (s *weightedSem) release(n int64) {
	s.mu.Lock()
	s.inUse -= n
	close(s.cond)
	s.cond = make(chan struct{})
	s.mu.Unlock()
}
