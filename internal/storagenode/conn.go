package storagenode

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/floelabs/floe/internal/rawsock"
)

// Connections are read in large pieces. TLS asks its connection for one record (at most
// 16 KiB) at a time, so an upload of 115 MB took a node some 10,000 read(2) calls, each of
// which also woke the Go runtime's monitor thread when the node had gone idle in between: on
// this VM kind, where a system call and a context switch are dear, the calls and wake-ups cost
// more than decrypting the bytes. A connection's reads now fill a buffer of bigReadSize from
// the socket (whatever has arrived, up to its size), from which TLS takes its records. The
// buffer is borrowed from a pool while it holds bytes and given back when it is empty, so an
// idle connection holds none. The socket is read without waking the runtime's monitor
// thread (internal/rawsock): a node goes idle whenever it has read what arrived, and its
// next read after the poller woke it used to wake the monitor, which then polled every
// 20 µs while the node worked. Its writes (responses) go out the same way: one response per
// upload request, written when the node had gone idle waiting for the store's disk writes, woke
// the monitor again.

// bigReadSize is the size of a connection's read buffer.
const bigReadSize = 256 << 10

// A connection carrying plain HTTP (a client on the node's machine, nodetls.Listener) is read
// by net/http through its 4 KiB buffer, and upload bodies are read straight into their frame
// buffers: a read into the pooled buffer would have every frame header's read bring in up to
// 256 KiB of the sliver after it, copied a second time into its frame (a third of the bytes
// of a store, 0.15-0.3 CPU s of the nodes'). Such a connection reads into the caller's buffer
// whenever it asks for plainDirectRead bytes or more.
const plainDirectRead = 4 << 10

// bigReadListener wraps the connections l accepts in bigReadConns sharing one pool.
type bigReadListener struct {
	net.Listener
	pool *sync.Pool
}

func newBigReadListener(l net.Listener) *bigReadListener {
	return &bigReadListener{Listener: l, pool: &sync.Pool{New: func() any { b := make([]byte, bigReadSize); return &b }}}
}

func (l *bigReadListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &bigReadConn{Conn: c, read: rawsock.Reader(c), write: rawsock.Writer(c), pool: l.pool, direct: bigReadSize}, nil
}

// bigReadConn is a net.Conn whose reads go through a pooled buffer. Like any net.Conn's, its
// reads are not for concurrent use (TLS serializes them).
type bigReadConn struct {
	net.Conn
	read  func([]byte) (int, error) // c.Conn's reads
	write func([]byte) (int, error) // c.Conn's writes
	pool  *sync.Pool
	// direct: reads of at least this many bytes, when nothing is buffered, go straight into
	// the caller's buffer (bigReadSize; plainDirectRead once ServingPlain).
	direct int
	buf    *[]byte // nil when empty
	r, w   int     // the unread bytes are (*buf)[r:w]
	err    error   // the error that came with the last bytes read, returned once they are
	// (Close, which may run beside a Read, leaves a held buffer to the collector.)
}

func (c *bigReadConn) Read(p []byte) (int, error) {
	if c.buf == nil {
		if c.err != nil {
			err := c.err
			c.err = nil
			return 0, err
		}
		if len(p) >= c.direct {
			return c.read(p)
		}
		buf := c.pool.Get().(*[]byte)
		n, err := c.read(*buf)
		if n <= 0 {
			c.pool.Put(buf)
			return 0, err
		}
		c.buf, c.r, c.w, c.err = buf, 0, n, err
	}
	k := copy(p, (*c.buf)[c.r:c.w])
	c.r += k
	if c.r == c.w {
		c.pool.Put(c.buf)
		c.buf = nil
	}
	return k, nil
}

func (c *bigReadConn) Write(p []byte) (int, error) { return c.write(p) }

// ServingPlain tells the connection it carries plain HTTP (nodetls.PlainAware).
func (c *bigReadConn) ServingPlain() { c.direct = plainDirectRead }

// PeekByte returns the next byte Read will return, reading what has arrived into the
// connection's buffer (nodetls.Listener looks at a connection's first byte).
func (c *bigReadConn) PeekByte() (byte, error) {
	if c.buf == nil {
		if c.err != nil {
			return 0, c.err
		}
		buf := c.pool.Get().(*[]byte)
		n, err := c.read(*buf)
		if n <= 0 {
			c.pool.Put(buf)
			if err == nil {
				err = io.ErrNoProgress
			}
			return 0, err
		}
		c.buf, c.r, c.w, c.err = buf, 0, n, err
	}
	return (*c.buf)[c.r], nil
}

// rawConn is a connection the node dialed, read and written without waking the runtime's
// monitor thread (rawsock).
type rawConn struct {
	net.Conn
	read, write func([]byte) (int, error)
}

func (c *rawConn) Read(p []byte) (int, error)  { return c.read(p) }
func (c *rawConn) Write(p []byte) (int, error) { return c.write(p) }

// ControlPlaneHTTPClient returns the HTTP client for a node's control-plane client
// (cpclient.New): the same as cpclient's own, but its connections are read and written
// without waking the runtime's monitor thread. A node long-polls the control plane's events
// all the time, and the reads and writes of those polls were, with the garbage collector,
// what still woke the monitor most often on nodes storing slivers (uprobes on the runtime
// during BenchmarkStoreCPU), after which it polled every 20 µs for a while.
func ControlPlaneHTTPClient() *http.Client {
	var d net.Dialer
	return &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 64,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &rawConn{Conn: c, read: rawsock.Reader(c), write: rawsock.Writer(c)}, nil
		},
	}}
}
