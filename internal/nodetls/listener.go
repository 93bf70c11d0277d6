package nodetls

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// A node serves TLS and, to clients on its own machine, plain HTTP, on one port. A client
// talking to a node at a loopback address skips TLS (nodeclient.Options.TLSOnLoopback): the
// bytes never leave the machine, only root can see them there, and TLS would protect nothing
// the protocol does not already protect. Everything a node serves is checked by its client
// (metadata against the blob ID, slivers against the metadata, confirmations against the
// node's BLS key), so TLS adds confidentiality and protection against tampering on the path,
// and on loopback there is no path. gRPC's "local" credentials make the same choice. In a
// 256 MiB store on a 10-node devnet, TLS cost about 1.1 CPU s of the client's and nodes' 4
// (AES-GCM both ways and the TLS record layer), as much as half the work the store must do.
//
// Listener tells the two apart by a connection's first byte: a TLS connection starts with a
// handshake record (content type 22), an HTTP request with a method name (an ASCII letter)
// and HTTP/2 with its preface ("PRI"). Plain connections from any other address than a
// loopback one are answered with a 400 response naming the https:// scheme, and closed.

// recordTypeHandshake is the content type of the TLS record a client's first flight starts
// with.
const recordTypeHandshake = 22

// DefaultSniffTimeout is how long Listener waits for a connection's first byte.
const DefaultSniffTimeout = 10 * time.Second

// ByteReader is implemented by connections that can show their next byte without consuming
// it; Listener wraps other connections to do so.
type ByteReader interface {
	// PeekByte returns the next byte that a Read would return, waiting for it.
	PeekByte() (byte, error)
}

// PlainAware is implemented by connections that read differently when they carry plain HTTP
// rather than TLS records: Listener calls ServingPlain on such a connection before Accept
// returns it as plain.
type PlainAware interface {
	ServingPlain()
}

// ListenerOptions configure a Listener. Zero fields take the defaults.
type ListenerOptions struct {
	// SniffTimeout bounds the wait for a connection's first byte (default
	// DefaultSniffTimeout).
	SniffTimeout time.Duration
	// AllowPlain says whether a plain (non-TLS) connection from remote may be served
	// (default: remote is a loopback address).
	AllowPlain func(remote net.Addr) bool
	Logger     *slog.Logger
}

// Listener accepts connections of inner and returns them as *tls.Conn (server side of cfg)
// when they start with a TLS handshake, and as they are when they start with plain HTTP
// from a peer AllowPlain allows. An http.Server serving it (Serve, not ServeTLS) sees TLS
// connections as such: its TLSConfig's protocols (HTTP/2 by ALPN) and Request.TLS work as
// with ServeTLS. A connection's first byte is awaited off the accepting goroutine, so a
// client that connects and says nothing holds up no one else.
type Listener struct {
	inner net.Listener
	cfg   *tls.Config
	opts  ListenerOptions

	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	err   error // the inner listener's error that ended the accepting
}

// NewListener starts accepting connections of inner; Close stops it.
func NewListener(inner net.Listener, cfg *tls.Config, opts ListenerOptions) *Listener {
	if opts.SniffTimeout <= 0 {
		opts.SniffTimeout = DefaultSniffTimeout
	}
	if opts.AllowPlain == nil {
		opts.AllowPlain = IsLoopback
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Listener{inner: inner, cfg: cfg, opts: opts, conns: make(chan net.Conn), done: make(chan struct{})}
	go l.accept()
	return l
}

// IsLoopback reports whether addr is a TCP or UDP address on a loopback IP (127.0.0.0/8,
// ::1, or an IPv4-mapped loopback address), or a Unix socket's.
func IsLoopback(addr net.Addr) bool {
	var ip net.IP
	switch a := addr.(type) {
	case *net.UnixAddr:
		return true
	case *net.TCPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	default:
		ap, err := netip.ParseAddrPort(addr.String())
		return err == nil && ap.Addr().Unmap().IsLoopback()
	}
	return ip != nil && ip.IsLoopback()
}

// IsLoopbackHost reports whether host (of a host:port address) is a loopback IP literal.
// Names, "localhost" included, are not: what they resolve to is not the client's to know.
func IsLoopbackHost(host string) bool {
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// accept runs until the inner listener fails for good or Close.
func (l *Listener) accept() {
	var delay time.Duration
	for {
		c, err := l.inner.Accept()
		if err != nil {
			select {
			case <-l.done:
				l.stop(net.ErrClosed)
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				l.stop(err)
				return
			}
			// Out of file descriptors and the like: wait, as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			l.opts.Logger.Warn("nodetls: accept failed; retrying", "err", err, "in", delay)
			select {
			case <-time.After(delay):
			case <-l.done:
				l.stop(net.ErrClosed)
				return
			}
			continue
		}
		delay = 0
		go l.sniff(c)
	}
}

// stop records why accepting ended and wakes Accept.
func (l *Listener) stop(err error) {
	l.mu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.mu.Unlock()
	l.once.Do(func() { close(l.done) })
}

// sniff reads c's first byte and hands c to Accept, as TLS or plain, or refuses it.
func (l *Listener) sniff(c net.Conn) {
	pc, ok := c.(interface {
		net.Conn
		ByteReader
	})
	if !ok {
		pc = &peekConn{Conn: c, r: bufio.NewReaderSize(c, 16)}
	}
	_ = c.SetReadDeadline(time.Now().Add(l.opts.SniffTimeout))
	b, err := pc.PeekByte()
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return
	}
	var out net.Conn
	switch {
	case b == recordTypeHandshake:
		out = tls.Server(pc, l.cfg)
	case l.opts.AllowPlain(c.RemoteAddr()):
		if p, ok := c.(PlainAware); ok {
			p.ServingPlain()
		}
		out = pc
	default:
		l.opts.Logger.Info("nodetls: refused a plain HTTP connection from a non-loopback address", "remote", c.RemoteAddr().String())
		_ = c.SetWriteDeadline(time.Now().Add(l.opts.SniffTimeout))
		_, _ = c.Write(plainRefusal())
		c.Close()
		return
	}
	select {
	case l.conns <- out:
	case <-l.done:
		c.Close()
	}
}

// plainRefusal is the answer to a plain HTTP request from a non-loopback address.
func plainRefusal() []byte {
	const body = "this storage node serves plain HTTP only to its own machine: use https://\n"
	return fmt.Appendf(nil, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// Accept returns the next connection, a *tls.Conn or a plain one.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		l.mu.Lock()
		defer l.mu.Unlock()
		return nil, l.err
	}
}

// Close stops accepting and closes the inner listener; connections not yet returned by
// Accept are closed.
func (l *Listener) Close() error {
	l.stop(net.ErrClosed)
	err := l.inner.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// Addr returns the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// peekConn is a connection read through a small buffer, so that its first byte can be looked
// at.
type peekConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekConn) PeekByte() (byte, error) {
	b, err := c.r.Peek(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (c *peekConn) Read(p []byte) (int, error) {
	if c.r.Buffered() > 0 {
		return c.r.Read(p)
	}
	return c.Conn.Read(p)
}

// LocalSocket returns the name of the Unix socket (in Linux's abstract namespace, which
// belongs to the network namespace and needs no file) on which a node listening on the
// loopback address addr also serves its API to clients on its machine. Loopback TCP costs
// the kernel about twice what a Unix socket does per byte (1.15 GB, a 256 MiB store's
// slivers: 0.48-0.57 CPU s against 0.18-0.27 on the devnet's machine), and a client reaching
// a node at a loopback address tries the socket first (nodeclient). Whoever answers there is
// treated as the node is on loopback TCP: everything it serves is verified.
func LocalSocket(addr string) string { return "@floe-node/" + addr }
