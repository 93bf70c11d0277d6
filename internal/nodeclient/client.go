// Package nodeclient is the one client of Floe's storage-node API (api/storagenode), used by
// the SDK and by storage nodes talking to their peers. It reaches a node over HTTPS with the
// certificate pinned to the network key the node registered on the control plane
// (internal/nodetls); decodes the AIP-193 error envelope into an *Error that matches the
// sentinel of its reason; tracks each node's latency; reads 2xx bodies into pooled buffers of
// their Content-Length under a hard size limit; and verifies everything a node serves before
// returning it: metadata against the blob ID, slivers and recovery symbols against the
// metadata, confirmations and attestations against the node's registered BLS key. A node
// that serves something that does not verify gets an error wrapping ErrInvalidResponse.
//
// Each route has a typed method on Client. Retries and limits are not built in: they are
// Doers wrapping the client's transport (Retry, LimitBytes), applied per call site with
// Client.With, as restic wraps its backends.
package nodeclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/nodetls"
	"github.com/floelabs/floe/redstuff"
)

// Options configure a Pool. Zero fields take the defaults.
type Options struct {
	// RootCAs validates nodes whose certificate does not hold their registered network key
	// (the system pool if nil).
	RootCAs *x509.CertPool
	// HTTP2 multiplexes a node's requests on one HTTP/2 connection; the default is HTTP/1.1
	// over up to MaxConnsPerNode connections, which moves bulk bodies with fewer copies.
	HTTP2 bool
	// MaxConnsPerNode is how many idle connections are kept per node (default 10).
	MaxConnsPerNode int
	// Timeout bounds one request (default 30 s); Client.WithTimeout overrides it.
	Timeout time.Duration
	// BufferSize sets the transport's read and write buffers (default: net/http's).
	BufferSize int
	// TLSOnLoopback talks TLS to nodes at loopback addresses too. By default a node whose
	// address is a loopback IP literal (127.0.0.0/8, ::1) is reached over plain HTTP (HTTP/2
	// by prior knowledge with HTTP2): the traffic stays on the machine, and everything a
	// node serves is verified anyway (see nodetls.Listener). Nodes elsewhere always get TLS.
	TLSOnLoopback bool
	// NoLocalSocket reaches nodes at loopback addresses over loopback TCP only. By default
	// the client tries the node's Unix socket first (nodetls.LocalSocket), which costs the
	// kernel about half as much per byte.
	NoLocalSocket bool
	Logger        *slog.Logger
}

// Node names a storage node as the control plane registers it.
type Node struct {
	Name string
	// Address is host:port of its HTTPS API.
	Address string
	// NetworkKey is the network public key its TLS certificate must hold.
	NetworkKey []byte
	// BLSKey verifies its signatures.
	BLSKey crypto.BLSPublicKey
}

// Pool holds one Client per node (by address and network key, so that a node keeps its
// connections across committees), and the encoders verification needs. It is safe for
// concurrent use.
type Pool struct {
	opts    Options
	log     *slog.Logger
	bufs    bufPool
	batches batchPool

	mu       sync.Mutex
	nodes    map[string]*conn
	encoders map[int]*redstuff.Encoder
}

// NewPool returns an empty pool.
func NewPool(opts Options) *Pool {
	if opts.MaxConnsPerNode <= 0 {
		opts.MaxConnsPerNode = 10
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pool{opts: opts, log: log, nodes: map[string]*conn{}, encoders: map[int]*redstuff.Encoder{}}
}

// Encoder returns the (cached) encoder for n shards.
func (p *Pool) Encoder(n int) (*redstuff.Encoder, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.encoders[n]; e != nil {
		return e, nil
	}
	e, err := redstuff.New(n)
	if err != nil {
		return nil, fmt.Errorf("nodeclient: encoder for %d shards: %w", n, err)
	}
	p.encoders[n] = e
	return e, nil
}

// conn is what the clients of one node share: its HTTP client, latency and route support.
type conn struct {
	hc   *http.Client
	base string // scheme://address
	lat  Latency

	mu    sync.Mutex
	name  string
	bls   crypto.BLSPublicKey
	batch int // 0 unknown, 1 the node offers the batched upload, -1 it does not
}

// Client returns the client of node n.
func (p *Pool) Client(n Node) (*Client, error) {
	key := n.Address + "|" + hex.EncodeToString(n.NetworkKey)
	name := n.Name
	if name == "" {
		name = n.Address
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.nodes[key]
	if c == nil {
		host, _, err := net.SplitHostPort(n.Address)
		if err != nil {
			return nil, fmt.Errorf("nodeclient: node %s: address %q: %w", name, n.Address, err)
		}
		tc, err := nodetls.ClientConfig(n.NetworkKey, host, p.opts.RootCAs)
		if err != nil {
			return nil, fmt.Errorf("nodeclient: node %s: %w", name, err)
		}
		dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		tr := &http.Transport{
			ForceAttemptHTTP2:   p.opts.HTTP2,
			MaxIdleConnsPerHost: p.opts.MaxConnsPerNode,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
			DialContext:         dialer.DialContext,
			WriteBufferSize:     p.opts.BufferSize,
			ReadBufferSize:      p.opts.BufferSize,
		}
		scheme := "https://"
		if !p.opts.TLSOnLoopback && nodetls.IsLoopbackHost(host) {
			scheme = "http://"
			tr.DialContext = dialPlain(dialer, &p.batches, !p.opts.NoLocalSocket)
			if p.opts.HTTP2 {
				tr.Protocols = new(http.Protocols)
				tr.Protocols.SetUnencryptedHTTP2(true)
			}
		} else {
			tr.TLSClientConfig = tc
			if !p.opts.HTTP2 {
				tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
				// HTTP/1.1 bodies go out in batches of TLS records (batchconn.go).
				tr.DialTLSContext = dialBatchedTLS(dialer, tc, &p.batches, 10*time.Second)
			}
		}
		c = &conn{hc: &http.Client{Transport: tr}, base: scheme + n.Address}
		p.nodes[key] = c
	}
	c.mu.Lock()
	c.name, c.bls = name, n.BLSKey
	c.mu.Unlock()
	cl := &Client{pool: p, c: c, name: name, base: c.base, bls: n.BLSKey, timeout: p.opts.Timeout,
		log: p.log.With("node", name)}
	cl.doer = DoerFunc(cl.send)
	return cl, nil
}

// Close closes the idle connections of every node.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.nodes {
		c.hc.CloseIdleConnections()
	}
}

// Latencies returns the smoothed response time of every node the pool has talked to, by
// name.
func (p *Pool) Latencies() map[string]time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]time.Duration{}
	for _, c := range p.nodes {
		c.mu.Lock()
		name := c.name
		c.mu.Unlock()
		out[name] = c.lat.Mean()
	}
	return out
}

// Client talks to one storage node. It is safe for concurrent use; With and WithTimeout
// return derived clients sharing its connections.
type Client struct {
	pool    *Pool
	c       *conn
	name    string
	base    string
	bls     crypto.BLSPublicKey
	timeout time.Duration
	log     *slog.Logger
	doer    Doer
}

// Name returns the node's name (its address if it has none).
func (c *Client) Name() string { return c.name }

// Latency returns the node's latency record.
func (c *Client) Latency() *Latency { return &c.c.lat }

// Logger returns a logger that names the node.
func (c *Client) Logger() *slog.Logger { return c.log }

// With returns a client whose requests go through the wrappers, the first outermost.
func (c *Client) With(wrappers ...func(Doer) Doer) *Client {
	cc := *c
	for i := len(wrappers) - 1; i >= 0; i-- {
		cc.doer = wrappers[i](cc.doer)
	}
	return &cc
}

// WithTimeout returns a client whose requests time out after d.
func (c *Client) WithTimeout(d time.Duration) *Client {
	cc := *c
	cc.timeout = d
	return &cc
}

// Do sends a request through the client's wrappers.
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) { return c.doer.Do(ctx, req) }

// send is the transport: one HTTPS request, its latency observed, its body read.
func (c *Client) send(ctx context.Context, req *Request) (*Response, error) {
	op := req.Method + " " + req.Path
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = c.timeout
	}
	caller := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// failed counts a request that got no answer against the node, unless the caller gave up
	// on it (a store's tail cut short, a read that has what it needs): that says nothing of
	// the node.
	failed := func() {
		if caller.Err() == nil {
			c.c.lat.Observe(0, false)
		}
	}
	var body io.Reader
	if req.Body != nil {
		body = req.Body.Reader()
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, c.base+req.Path, body)
	if err != nil {
		return nil, &Error{Node: c.name, Op: op, Err: err}
	}
	if req.Body != nil {
		hr.ContentLength = req.Body.Len() // a Content-Length, not chunks
		if hr.ContentLength == 0 {
			hr.Body = http.NoBody
		}
	}
	if req.ContentType != "" {
		hr.Header.Set("Content-Type", req.ContentType)
	}
	start := time.Now()
	resp, err := c.c.hc.Do(hr)
	if err != nil {
		failed()
		return nil, &Error{Node: c.name, Op: op, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		// A node that answers is alive: errors about the request do not count against it.
		c.c.lat.Observe(time.Since(start), resp.StatusCode < 500)
		return nil, decodeError(c.name, op, resp.StatusCode, b)
	}
	out, err := c.readBody(resp, req)
	if err != nil {
		failed()
		var ne *Error
		if errors.As(err, &ne) {
			ne.Op = op
			return nil, ne
		}
		return nil, &Error{Node: c.name, Op: op, Err: err}
	}
	c.c.lat.Observe(time.Since(start), true)
	return out, nil
}

// readBody reads a 2xx body of at most req.Limit bytes: straight into a buffer of its
// Content-Length (req.Into, else one from the pool) when it has one, else growing one.
func (c *Client) readBody(resp *http.Response, req *Request) (*Response, error) {
	limit := req.Limit
	out := &Response{Status: resp.StatusCode}
	tooLong := func() error {
		return invalid(c.name, "", resp.StatusCode, fmt.Sprintf("response longer than %d bytes", limit), nil)
	}
	cl := resp.ContentLength
	if cl > limit {
		return nil, tooLong()
	}
	var buf *[]byte
	if req.Into != nil {
		buf = req.Into
	} else {
		n := cl
		if n < 0 {
			n = min(limit, 64<<10)
		}
		buf = c.pool.bufs.get(int(n))
		out.buf, out.pool = buf, &c.pool.bufs
	}
	fail := func(err error) (*Response, error) {
		out.Release()
		return nil, err
	}
	if cl >= 0 {
		if int64(cap(*buf)) < cl {
			*buf = make([]byte, cl)
		}
		*buf = (*buf)[:cl]
		if _, err := io.ReadFull(resp.Body, *buf); err != nil {
			return fail(err)
		}
		// A body longer than announced is a protocol error the transport reports here.
		var one [1]byte
		if k, err := resp.Body.Read(one[:]); k > 0 || (err != nil && err != io.EOF) {
			if err == nil {
				err = fmt.Errorf("body longer than its Content-Length %d", cl)
			}
			return fail(err)
		}
		out.Body = *buf
		return out, nil
	}
	b := (*buf)[:0]
	for {
		if len(b) == cap(b) {
			if int64(len(b)) > limit {
				return fail(tooLong())
			}
			b = append(b, 0)[:len(b)]
		}
		k, err := resp.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+k]
		if int64(len(b)) > limit {
			*buf = b
			return fail(tooLong())
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			*buf = b
			return fail(err)
		}
	}
	*buf = b
	out.Body = b
	return out, nil
}
