package nodeclient

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Uploads over HTTP/1.1 write their TLS records in batches. crypto/tls writes each record
// (at most 16 KiB) with a write(2) of its own, and net/http hands it the body 32 KiB at a
// time: storing 256 MiB made the client some 70,000 write calls (0.44 CPU s), and woke the
// receiving node for each. A connection now takes the body in pieces of up to batchSize
// (ReadFrom), encrypts each piece's records into a buffer under TLS (batchingConn) and sends
// them with one write. Writes TLS makes on its own (the handshake, alerts) go out at once.

// batchSize is the most body bytes encrypted before a write.
const batchSize = 256 << 10

// batchPool recycles the buffers of batchingConn and batchedTLSConn.ReadFrom.
type batchPool struct{ p sync.Pool }

func (bp *batchPool) get() *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, batchSize+batchSize/8)
	return &b
}

func (bp *batchPool) put(b *[]byte) {
	*b = (*b)[:0]
	bp.p.Put(b)
}

// batchingConn is the TCP connection under TLS: between hold and release it keeps what TLS
// writes, and release sends it in one write.
type batchingConn struct {
	net.Conn
	pool *batchPool

	mu   sync.Mutex
	held *[]byte // nil: writes go out at once
}

func (c *batchingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held == nil {
		return c.Conn.Write(p)
	}
	*c.held = append(*c.held, p...)
	return len(p), nil
}

func (c *batchingConn) hold() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held == nil {
		c.held = c.pool.get()
	}
}

// release sends what was kept and writes at once again.
func (c *batchingConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.held
	if b == nil {
		return nil
	}
	c.held = nil
	defer c.pool.put(b)
	_, err := c.Conn.Write(*b)
	return err
}

// batchedTLSConn is a TLS connection whose writes go out in one write(2) each.
type batchedTLSConn struct {
	*tls.Conn
	raw  *batchingConn
	pool *batchPool
}

func (c *batchedTLSConn) Write(p []byte) (int, error) {
	var n int
	for n < len(p) {
		k := min(len(p)-n, batchSize)
		c.raw.hold()
		_, err := c.Conn.Write(p[n : n+k])
		if rerr := c.raw.release(); err == nil {
			err = rerr
		}
		if err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}

// ReadFrom copies r to the connection in pieces of up to batchSize.
func (c *batchedTLSConn) ReadFrom(r io.Reader) (int64, error) {
	bp := c.pool.get()
	defer c.pool.put(bp)
	buf := (*bp)[:batchSize]
	var total int64
	for {
		k, err := io.ReadFull(r, buf)
		if k > 0 {
			if _, werr := c.Write(buf[:k]); werr != nil {
				return total, werr
			}
			total += int64(k)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// dialBatchedTLS returns a DialTLSContext for an HTTP/1.1 transport: it dials with d, runs the
// TLS handshake with cfg (bounded by timeout) and returns a batchedTLSConn.
func dialBatchedTLS(d *net.Dialer, cfg *tls.Config, pool *batchPool, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		bc := &batchingConn{Conn: raw, pool: pool}
		cfg := cfg.Clone()
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(bc, cfg)
		hctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			raw.Close()
			return nil, err
		}
		return &batchedTLSConn{Conn: tc, raw: bc, pool: pool}, nil
	}
}
