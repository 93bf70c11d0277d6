// Package storagenode is Floe's storage node: it follows the control plane's events, accepts
// metadata and slivers of registered blobs over an HTTPS API that follows Walrus's storage-node
// routes (spec §5), verifies and stores them in a nodestore, signs storage confirmations with
// its BLS key once it holds both slivers of every shard it owns, and serves slivers, metadata,
// recovery symbols and statuses. It heals itself: slivers of certified blobs that its shards
// lack (missed writes, a wiped disk, slivers quarantined as corrupt by the scrubber or a read)
// are rebuilt in the background from other nodes' recovery symbols, and a rebuilt sliver that
// contradicts the metadata leads to an inconsistency proof and an invalid-blob certificate on
// the control plane. Wire types live in api/storagenode.
//
// The node is split by concern:
//
//   - this package is the service and its HTTP API: Config, New and Run (listeners, servers,
//     shutdown), the routes (routes.go), which parse requests, read bodies under their limits
//     (body.go) and write the JSON or BCS answers, and the one table that maps the engine's
//     errors onto HTTP status codes and AIP-193 reasons (errors.go);
//   - internal/storagenode/engine is what a node does, with no net/http: Uploads (checks,
//     verification, the pending buffer), Reads (metadata, slivers, recovery symbols,
//     statuses), Confirmations, Inconsistency (attesting and proving), and the background
//     work of its Run: following events, recovery, housekeeping. Its errors say what went
//     wrong, never which status code that is.
//
// A Node is built from a Config (New), then Run serves until its context ends. Many nodes can
// run in one process: the logger and the Prometheus registry are passed in.
package storagenode

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/nodetls"
	"github.com/floelabs/floe/internal/storagenode/engine"
)

// Config configures a Node: the engine's options (Store, ControlPlane and ProtocolKey are
// required) and the service's. Zero limits take the defaults.
type Config struct {
	engine.Options
	// ListenAddr is the HTTPS listen address (default 127.0.0.1:0).
	ListenAddr string
	// MetricsAddr is the address of the Prometheus listener; "" disables it.
	MetricsAddr string
	// Pprof also serves Go's profiles (net/http/pprof, /debug/pprof/) on the metrics
	// listener, for finding where a node's CPU and memory go.
	Pprof bool
	// Certificate is the node's TLS certificate (nodetls.SelfSigned for its network key).
	Certificate tls.Certificate
	// Listener, if set, is the HTTPS listener to serve on (ListenAddr is then ignored); the
	// node closes it when Run returns.
	Listener net.Listener
	// MaxUploadBytes bounds the bytes of the request bodies being read at once (default 512
	// MiB); MinUploadRate is the least average rate, in bytes per second, at which a body
	// must arrive once UploadGrace has passed (defaults 64 KiB/s and 10 s). See body.go.
	MaxUploadBytes int64
	MinUploadRate  int64
	UploadGrace    time.Duration
}

func (c *Config) setDefaults() {
	c.Options.SetDefaults()
	if c.ListenAddr == "" {
		c.ListenAddr = "127.0.0.1:0"
	}
	if c.MaxUploadBytes == 0 {
		c.MaxUploadBytes = 512 << 20
	}
	if c.MinUploadRate == 0 {
		c.MinUploadRate = 64 << 10
	}
	if c.UploadGrace == 0 {
		c.UploadGrace = 10 * time.Second
	}
}

// Validate reports a configuration the node cannot run with.
func (c *Config) Validate() error {
	if len(c.Certificate.Certificate) == 0 {
		return errors.New("storagenode: config: no TLS certificate")
	}
	if c.MaxUploadBytes < 0 || c.MinUploadRate < 0 || c.UploadGrace < 0 {
		return errors.New("storagenode: config: negative limit")
	}
	return c.Options.Validate()
}

// Node is a running storage node.
type Node struct {
	cfg Config
	e   *engine.Engine
	hm  *httpMetrics
	// uploads bounds the bytes of the request bodies being read (MaxUploadBytes).
	uploads *semaphore.Weighted

	ln, metricsLn net.Listener
	// localLn is the Unix socket (nodetls.LocalSocket) of a node listening on loopback, nil
	// if it has none.
	localLn    net.Listener
	srv        *http.Server
	metricsSrv *http.Server
	// tasks run beside the node (AddTask).
	tasks []func(ctx context.Context)
}

// New builds a node and opens its listeners (Addr is known once New returns). Run serves.
func New(cfg Config) (*Node, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e, err := engine.New(cfg.Options)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, e: e, uploads: semaphore.NewWeighted(cfg.MaxUploadBytes)}
	if n.hm, err = newHTTPMetrics(cfg.Registry); err != nil {
		return nil, err
	}
	if cfg.Listener != nil {
		n.ln = cfg.Listener
	} else if n.ln, err = net.Listen("tcp", cfg.ListenAddr); err != nil {
		return nil, fmt.Errorf("storagenode: listen: %w", err)
	}
	if a, ok := n.ln.Addr().(*net.TCPAddr); ok && a.IP.IsLoopback() {
		name := nodetls.LocalSocket(a.String())
		if n.localLn, err = net.Listen("unix", name); err != nil {
			cfg.Logger.Warn("storagenode: no local socket; clients on this machine use loopback TCP", "socket", name, "err", err)
			n.localLn = nil
		}
	}
	n.srv = &http.Server{
		Handler:           n.Handler(),
		TLSConfig:         nodetls.ServerConfig(cfg.Certificate),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slogLogger(cfg.Logger),
		Protocols:         nodeProtocols(),
	}
	if cfg.MetricsAddr != "" {
		if n.metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			n.ln.Close()
			if n.localLn != nil {
				n.localLn.Close()
			}
			return nil, fmt.Errorf("storagenode: metrics listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle(api.RouteMetricsPath, promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
		if cfg.Pprof {
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
		n.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	}
	return n, nil
}

// nodeProtocols are what a node's API speaks: HTTP/1.1 and HTTP/2 over TLS, and to clients on
// its own machine the same without TLS (nodetls.Listener), HTTP/2 by prior knowledge.
func nodeProtocols() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(true)
	return &p
}

// Addr returns the HTTPS listen address.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// MetricsAddr returns the metrics listen address, or "" if disabled.
func (n *Node) MetricsAddr() string {
	if n.metricsLn == nil {
		return ""
	}
	return n.metricsLn.Addr().String()
}

// WrapHandler replaces the node's HTTP handler by wrap(handler) (tests put a lying node's
// handler around the honest one, see package byzantine). Call it before Run.
func (n *Node) WrapHandler(wrap func(http.Handler) http.Handler) {
	n.srv.Handler = wrap(n.srv.Handler)
}

// AddTask makes Run also run task until its context ends (tests add the background work of a
// lying node, see package byzantine). Call it before Run.
func (n *Node) AddTask(task func(ctx context.Context)) {
	n.tasks = append(n.tasks, task)
}

// PublicKey returns the node's BLS public key.
func (n *Node) PublicKey() crypto.BLSPublicKey { return n.e.PublicKey() }

// Run loads the node's state, then follows control-plane events and serves HTTPS (and
// metrics) until ctx ends; it returns nil on a clean shutdown. The store is not closed.
func (n *Node) Run(ctx context.Context) error {
	if err := n.e.Init(ctx); err != nil {
		n.ln.Close()
		if n.localLn != nil {
			n.localLn.Close()
		}
		if n.metricsLn != nil {
			n.metricsLn.Close()
		}
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		l := nodetls.NewListener(newBigReadListener(n.ln), n.srv.TLSConfig, nodetls.ListenerOptions{Logger: n.cfg.Logger})
		if err := n.srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("storagenode: serve: %w", err)
		}
		return nil
	})
	if n.localLn != nil {
		g.Go(func() error {
			l := nodetls.NewListener(newBigReadListener(n.localLn), n.srv.TLSConfig, nodetls.ListenerOptions{Logger: n.cfg.Logger})
			if err := n.srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("storagenode: serve the local socket: %w", err)
			}
			return nil
		})
	}
	if n.metricsSrv != nil {
		g.Go(func() error {
			if err := n.metricsSrv.Serve(n.metricsLn); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("storagenode: metrics: %w", err)
			}
			return nil
		})
	}
	g.Go(func() error { return n.e.Run(gctx) })
	for _, task := range n.tasks {
		g.Go(func() error { task(gctx); return nil })
	}
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err := n.srv.Shutdown(sctx)
		if n.metricsSrv != nil {
			err = errors.Join(err, n.metricsSrv.Shutdown(sctx))
		}
		if err != nil {
			n.srv.Close()
		}
		return nil
	})
	err := g.Wait()
	n.e.Close()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
