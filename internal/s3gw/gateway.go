package s3gw

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/rclone/gofakes3"
	"golang.org/x/sync/semaphore"

	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/redstuff"
)

// Gateway serves the S3 API over a Floe network. It is safe for concurrent use.
type Gateway struct {
	cfg Config
	log *slog.Logger
	ix  *index
	fol *follower
	// wallets by address; keys by access key ID.
	wallets map[client.Address]*wallet
	keys    map[string]*accessKey
	// reader is a client for reads and queries that need no wallet.
	reader *client.Client
	mem    *semaphore.Weighted
	// chunkSize is the most bytes stored as one blob (the configuration's, at most the
	// network's largest blob).
	chunkSize int64
	// spillAt: a chunk larger than this is received into a temporary file and stored from
	// there (the client's SpillAbove; negative: never).
	spillAt int64
	fake    *gofakes3.GoFakeS3
	handler http.Handler

	manifests manifestCache

	upMu    sync.Mutex
	uploads map[gofakes3.UploadID]*upload

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// wallet is a wallet with its client (which serialises the wallet's transactions).
type wallet struct {
	addr client.Address
	c    *client.Client
}

type accessKey struct {
	id, secret string
	w          *wallet
}

// New connects to the network, loads or rebuilds the index, starts following the control
// plane and returns the gateway. Close stops it.
func New(ctx context.Context, cfg Config) (_ *Gateway, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, log: cfg.Logger, wallets: map[client.Address]*wallet{}, keys: map[string]*accessKey{},
		mem: semaphore.NewWeighted(cfg.MaxBuffered), uploads: map[gofakes3.UploadID]*upload{}}
	g.manifests.init(256)
	defer func() {
		if err != nil {
			g.Close()
		}
	}()
	for _, k := range cfg.Keys {
		addr := client.Address(k.Wallet.Address())
		w := g.wallets[addr]
		if w == nil {
			cc := cfg.Client
			cc.Wallet, cc.Logger = k.Wallet, g.log.With("component", "client", "wallet", addr)
			c, err := client.New(ctx, cc)
			if err != nil {
				return nil, fmt.Errorf("s3gw: connecting: %w", err)
			}
			w = &wallet{addr: addr, c: c}
			g.wallets[addr] = w
			if g.reader == nil {
				g.reader = c
			}
		}
		g.keys[k.ID] = &accessKey{id: k.ID, secret: k.Secret, w: w}
	}
	// A chunk must fit in a blob of the network.
	in, err := g.reader.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("s3gw: %w", err)
	}
	p, err := redstuff.NewParams(in.Params.NShards)
	if err != nil {
		return nil, fmt.Errorf("s3gw: %w", err)
	}
	g.chunkSize = min(cfg.ChunkSize, int64(p.MaxBlobSize()))
	g.spillAt = cfg.Client.SpillAbove
	if g.spillAt == 0 {
		g.spillAt = client.DefaultSpillAbove
	}
	if g.ix, err = openIndex(cfg.Dir); err != nil {
		return nil, err
	}
	g.fol = newFollower(g)
	if err := g.fol.bootstrap(ctx); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.fol.run(runCtx)
	}()
	g.fake = gofakes3.New(&backend{g: g},
		gofakes3.WithLogger(fakeLog{g.log}),
		gofakes3.WithUploadOwner(func(ctx context.Context) string {
			if id := identityFrom(ctx); id != nil {
				return id.w.addr.String()
			}
			return ""
		}),
	)
	api := g.authenticate(g.fake.Server())
	g.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == HealthPath && r.Method == http.MethodGet {
			w.WriteHeader(http.StatusOK)
			return
		}
		api.ServeHTTP(w, r)
	})
	return g, nil
}

// HealthPath answers 200 without authentication while the gateway runs (no bucket can be
// named "_floe").
const HealthPath = "/_floe/health"

// Handler returns the S3 API handler.
func (g *Gateway) Handler() http.Handler { return g.handler }

// Close stops following the control plane and closes the index and the clients.
func (g *Gateway) Close() error {
	if g.cancel != nil {
		g.cancel()
	}
	g.wg.Wait()
	for _, w := range g.wallets {
		w.c.Close()
	}
	if g.ix != nil {
		return g.ix.Close()
	}
	return nil
}

// newID returns a random identifier (upload IDs, put IDs).
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// fakeLog sends the S3 library's log lines to slog.
type fakeLog struct{ log *slog.Logger }

func (l fakeLog) Print(level gofakes3.LogLevel, v ...any) {
	msg := fmt.Sprint(v...)
	switch level {
	case gofakes3.LogErr:
		l.log.Error("s3", "msg", msg)
	case gofakes3.LogWarn:
		l.log.Warn("s3", "msg", msg)
	default:
		l.log.Debug("s3", "msg", msg)
	}
}

// manifestCache keeps recently read manifests (a manifest blob never changes).
type manifestCache struct {
	mu  sync.Mutex
	max int
	m   map[client.ObjectID]*manifest
}

func (c *manifestCache) init(max int) { c.max, c.m = max, map[client.ObjectID]*manifest{} }

func (c *manifestCache) get(id client.ObjectID) *manifest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

func (c *manifestCache) put(id client.ObjectID, m *manifest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k := range c.m { // drop an arbitrary entry
			delete(c.m, k)
			break
		}
	}
	c.m[id] = m
}
