package explorer

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/nodeclient"
)

// Target is a Prometheus endpoint the explorer scrapes. A target whose Name is a storage
// node's registered name gives that node's disk usage and recovery queue.
type Target struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// ParseTargets parses "name=URL,name=URL" (the daemon's --explorer-metrics flag).
func ParseTargets(s string) ([]Target, error) {
	var out []Target
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, raw, ok := strings.Cut(part, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("explorer: metrics target %q: want name=URL", part)
		}
		t := Target{Name: name, URL: raw}
		if err := t.validate(); err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, fmt.Errorf("explorer: metrics target %q named twice", name)
		}
		seen[name] = true
		out = append(out, t)
	}
	return out, nil
}

func (t Target) validate() error {
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("explorer: metrics target %s: %q is not an http(s) URL", t.Name, t.URL)
	}
	return nil
}

// Config configures an Explorer. Zero fields take the defaults in their comments.
type Config struct {
	// ControlPlaneURL is the control plane's API (required).
	ControlPlaneURL string
	// HTTPClient talks to the control plane and the metrics endpoints (a default client
	// with 10 s timeouts if nil).
	HTTPClient *http.Client
	// RootCAs validates nodes whose certificate does not hold their registered network key
	// (the system pool if nil), as the SDK's.
	RootCAs *x509.CertPool
	// Targets are the Prometheus endpoints scraped every Interval.
	Targets []Target
	// Self is the daemon's own registry (its store and read counters and latencies).
	Self prometheus.Gatherer
	// Interval between samples (default 5 s); History is how many are kept (default 720:
	// an hour at 5 s).
	Interval time.Duration
	History  int
	// Prefix is the path the explorer is mounted at (default "/explorer").
	Prefix string
	// NodeTimeout bounds each request to a node (default 3 s).
	NodeTimeout time.Duration
	Logger      *slog.Logger
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Minute}}
	}
	if c.Interval == 0 {
		c.Interval = 5 * time.Second
	}
	if c.History == 0 {
		c.History = 720
	}
	if c.Prefix == "" {
		c.Prefix = "/explorer"
	}
	c.Prefix = "/" + strings.Trim(c.Prefix, "/")
	if c.NodeTimeout == 0 {
		c.NodeTimeout = 3 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports a configuration that cannot work (after defaults).
func (c Config) Validate() error {
	switch {
	case c.ControlPlaneURL == "":
		return errors.New("explorer: no control plane URL")
	case c.Interval < 100*time.Millisecond:
		return fmt.Errorf("explorer: interval %v is below 100ms", c.Interval)
	case c.History < 2:
		return fmt.Errorf("explorer: history of %d points: need at least 2", c.History)
	case c.NodeTimeout < 0:
		return errors.New("explorer: negative node timeout")
	case c.Prefix == "/":
		return errors.New("explorer: the prefix must not be the root")
	}
	for _, t := range c.Targets {
		if err := t.validate(); err != nil {
			return err
		}
	}
	return nil
}

// Explorer collects the network's state and serves the explorer's pages. It is an
// http.Handler for the paths under its prefix; Run samples the network until its context ends.
type Explorer struct {
	cfg   Config
	log   *slog.Logger
	cp    *cpclient.Client
	nodes *nodeclient.Pool
	hist  *ring
	mux   *http.ServeMux
	pages *pages

	mu      sync.Mutex
	snap    *Snapshot
	prev    map[string]*metrics // the previous scrape of each target, "" for Self
	prevAt  time.Time
	events  []Event
	cursor  uint64
	started bool
	// knownRefs remembers how to reach each node, for when the control plane does not answer.
	knownRefs map[string]nodeclient.Node

	shardScans *scanCache
}

// New returns an explorer for cfg.
func New(cfg Config) (*Explorer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pg, err := newPages(cfg.Prefix)
	if err != nil {
		return nil, err
	}
	x := &Explorer{cfg: cfg, log: cfg.Logger, cp: cpclient.New(cfg.ControlPlaneURL, cfg.HTTPClient),
		nodes: nodeclient.NewPool(nodeclient.Options{RootCAs: cfg.RootCAs, Timeout: cfg.NodeTimeout, MaxConnsPerNode: 4, Logger: cfg.Logger}),
		hist:  newRing(cfg.History), pages: pg, prev: map[string]*metrics{}, knownRefs: map[string]nodeclient.Node{}, shardScans: newScanCache(64, 15*time.Second)}
	x.routes()
	return x, nil
}

// Prefix returns the path the explorer serves under (no trailing slash).
func (x *Explorer) Prefix() string { return x.cfg.Prefix }

// Run samples the network every Interval until ctx ends, then closes the explorer's
// connections.
func (x *Explorer) Run(ctx context.Context) error {
	defer x.nodes.Close()
	t := time.NewTicker(x.cfg.Interval)
	defer t.Stop()
	for {
		x.Sample(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Snapshot returns the latest sample of the network (nil before the first).
func (x *Explorer) Snapshot() *Snapshot {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.snap
}

// History returns the sampled points, oldest first.
func (x *Explorer) History() []Point { return x.hist.points() }
