package nodeclient

import (
	"context"
	"io"
	"net"

	"github.com/floelabs/floe/internal/nodetls"
	"github.com/floelabs/floe/internal/rawsock"
)

// A node at a loopback address is reached over plain HTTP unless Options.TLSOnLoopback (see
// nodetls.Listener for why that is safe). Upload bodies then go from the caller's buffers to
// the socket with one write(2) per sliver, or spliced where the body allows it
// (RetainingWriter); the small pieces between slivers (frame headers) are gathered into one
// write.

// unixSendBuffer is the send buffer asked for a connection to a node's local socket.
const unixSendBuffer = 4 << 20

// smallWrite is the size below which a body's writes are gathered.
const smallWrite = 64 << 10

// plainConn is a TCP or Unix connection without TLS, written without waking the runtime's
// monitor (rawsock), and spliced to where the bytes allow it (WriteRetained).
type plainConn struct {
	net.Conn
	write  func([]byte) (int, error)
	splice *rawsock.Splicer // nil where the connection cannot be spliced to
	pool   *batchPool
}

func (c *plainConn) Write(p []byte) (int, error) { return c.write(p) }

// Close closes the connection and releases its splicer's pipe.
func (c *plainConn) Close() error {
	if c.splice != nil {
		c.splice.Close()
	}
	return c.Conn.Close()
}

// ReadFrom copies r to the connection: a body that can write itself (an io.WriterTo under
// net/http's io.LimitedReader at its Content-Length) writes from its own buffers; anything
// else goes through a pooled buffer in pieces of batchSize.
func (c *plainConn) ReadFrom(r io.Reader) (int64, error) {
	bp := c.pool.get()
	defer c.pool.put(bp)
	if lr, ok := r.(*io.LimitedReader); ok {
		if wt, ok := lr.R.(io.WriterTo); ok {
			w := &gatherWriter{c: c, left: lr.N, buf: (*bp)[:0]}
			n, err := wt.WriteTo(w)
			if ferr := w.flush(); err == nil {
				err = ferr
			}
			return n, err
		}
	}
	return io.CopyBuffer(writerOnly{c}, r, (*bp)[:batchSize])
}

// writerOnly hides the connection's ReadFrom from io.CopyBuffer.
type writerOnly struct{ io.Writer }

// RetainingWriter is what a body's WriteTo is given where the connection can take bytes
// without copying them (see rawsock.Splicer): WriteRetained writes p like Write, but p must
// stay unchanged until the node has read it, not only until WriteRetained returns. An upload
// body whose slivers stay in place until its store has ended (client: an encoding's sliver
// memory, reused only for a later store) writes them with it. Should the memory change
// before a node read it (a request abandoned by its store, its bytes still in the socket
// when the next store reuses the memory), the node receives slivers that do not verify and
// refuses them, as it would any.
type RetainingWriter interface {
	io.Writer
	WriteRetained(p []byte) (int, error)
}

// spliceMin is the size from which WriteRetained splices: below it, the pages' references
// cost more than the copy.
const spliceMin = 64 << 10

// gatherWriter writes at most left bytes to c: large writes go out as they are, small ones
// are gathered in buf until a large one or the end.
type gatherWriter struct {
	c    *plainConn
	left int64
	buf  []byte
}

func (w *gatherWriter) Write(p []byte) (int, error) {
	var err error
	if int64(len(p)) > w.left {
		p, err = p[:w.left], errBodyTooLong
	}
	w.left -= int64(len(p))
	if len(p) < smallWrite && len(w.buf)+len(p) <= cap(w.buf) {
		w.buf = append(w.buf, p...)
		return len(p), err
	}
	if ferr := w.flush(); ferr != nil {
		return 0, ferr
	}
	if len(p) < smallWrite {
		w.buf = append(w.buf, p...)
		return len(p), err
	}
	n, werr := w.c.write(p)
	if werr != nil {
		return n, werr
	}
	return n, err
}

// WriteRetained is Write, splicing p to the connection where it can (RetainingWriter).
func (w *gatherWriter) WriteRetained(p []byte) (int, error) {
	if w.c.splice == nil || len(p) < spliceMin {
		return w.Write(p)
	}
	var err error
	if int64(len(p)) > w.left {
		p, err = p[:w.left], errBodyTooLong
	}
	w.left -= int64(len(p))
	if ferr := w.flush(); ferr != nil {
		return 0, ferr
	}
	n, werr := w.c.splice.Write(p)
	if werr != nil {
		return n, werr
	}
	return n, err
}

// flush writes what was gathered.
func (w *gatherWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.c.write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// dialPlain returns a DialContext that reaches a node at a loopback address through its local
// socket (nodetls.LocalSocket), or where it has none (or local is false) over TCP with d, and
// wraps the connection in a plainConn.
func dialPlain(d *net.Dialer, pool *batchPool, local bool) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var raw net.Conn
		if local {
			if c, err := d.DialContext(ctx, "unix", nodetls.LocalSocket(addr)); err == nil {
				// A Unix socket's send buffer (net.core.wmem_default, 208 KiB) would hold less
				// than one sliver: the client would wait for the node, and wake it, every
				// 100 KiB or so. The kernel caps the size at net.core.wmem_max.
				if uc, ok := c.(*net.UnixConn); ok {
					_ = uc.SetWriteBuffer(unixSendBuffer)
				}
				raw = c
			}
		}
		if raw == nil {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			raw = c
		}
		return &plainConn{Conn: raw, write: rawsock.Writer(raw), splice: rawsock.NewSplicer(raw), pool: pool}, nil
	}
}
