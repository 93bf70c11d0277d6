package storagenode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/floelabs/floe/internal/storagenode/engine"
)

// Request bodies (uploads and inconsistency proofs) are read under three bounds:
//
//   - size: a body longer than its route's limit is refused (413) before it is read, or as
//     soon as it runs past the limit when it has no Content-Length;
//   - memory: the bytes of the bodies being read at once are bounded node-wide
//     (MaxUploadBytes); a request whose body does not fit waits up to UploadGrace for room,
//     then is refused with 503 and Retry-After. A body is read into a buffer that grows with
//     what arrives (a declared Content-Length reserves room in the bound, not memory);
//   - time: after UploadGrace, a body must keep arriving at MinUploadRate on average (counting
//     the time the node waits for it), or the read times out (408): a client that trickles a
//     body or stops sending cannot hold the node's memory, its connection or its upload room,
//     while a large upload over a slow link still gets the time it needs.

// ErrBodyTooSlow: the body did not arrive at the minimum transfer rate.
var ErrBodyTooSlow = errors.New("request body arrives too slowly")

// uploadRoom acquires the room of a body of length bytes (at most limit; an unknown length
// takes limit) in the node-wide bound on bodies being read, and returns its release.
func (n *Node) uploadRoom(ctx context.Context, length, limit int64) (func(), error) {
	need := limit
	if length >= 0 {
		need = min(length, limit)
	}
	need = min(max(need, 1), n.cfg.MaxUploadBytes)
	wctx, cancel := context.WithTimeout(ctx, n.cfg.UploadGrace)
	defer cancel()
	if err := n.uploads.Acquire(wctx, need); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: no room for another %d-byte upload", engine.ErrBusy, need)
	}
	n.hm.bodies.Inc()
	n.hm.bodyRoom.Add(float64(need))
	return func() {
		n.hm.bodies.Dec()
		n.hm.bodyRoom.Sub(float64(need))
		n.uploads.Release(need)
	}, nil
}

// slowBodyReader reads a request body under the minimum transfer rate: the time its reads
// may spend waiting for the client is grace + received/rate in all. Only the time blocked in
// reads counts, not the time the node spends between reads (verifying a batch's chunk, say),
// during which the client's bytes wait in the connection's buffers.
type slowBodyReader struct {
	r        io.Reader
	rc       *http.ResponseController
	grace    time.Duration
	rate     int64 // bytes per second
	received int64
	waited   time.Duration // blocked in reads so far
	eof      bool
	n        *Node
}

func (n *Node) bodyReader(w http.ResponseWriter, r *http.Request) *slowBodyReader {
	return &slowBodyReader{r: r.Body, rc: http.NewResponseController(w), grace: n.cfg.UploadGrace,
		rate: n.cfg.MinUploadRate, n: n}
}

func (b *slowBodyReader) Read(p []byte) (int, error) {
	left := b.grace + time.Duration(float64(b.received)/float64(b.rate)*float64(time.Second)) - b.waited
	now := time.Now()
	_ = b.rc.SetReadDeadline(now.Add(max(left, time.Millisecond))) // not every writer supports it (tests' recorders)
	k, err := b.r.Read(p)
	b.waited += time.Since(now)
	b.received += int64(k)
	if err == io.EOF {
		b.eof = true
	}
	var ne net.Error
	if err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())) {
		err = fmt.Errorf("%w: %d bytes in %v of waiting (at least %d bytes/s after %v)", ErrBodyTooSlow, b.received,
			b.waited.Round(time.Millisecond), b.rate, b.grace)
	}
	return k, err
}

// done counts the bytes read and clears the read deadline for the rest of the connection; if
// the body was not read to its end (refused, or too slow), the deadline is set to now instead,
// so that the server does not wait for the rest of it and closes the connection.
func (b *slowBodyReader) done() {
	if b.eof {
		_ = b.rc.SetReadDeadline(time.Time{})
	} else {
		_ = b.rc.SetReadDeadline(time.Now())
	}
	b.n.hm.bodyBytes.WithLabelValues("in").Add(float64(b.received))
}

// readBody reads a request body of at most limit bytes, under the bounds above.
func (n *Node) readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, bodyTooLarge(limit, r.ContentLength)
	}
	release, err := n.uploadRoom(r.Context(), r.ContentLength, limit)
	if err != nil {
		return nil, err
	}
	defer release()
	br := n.bodyReader(w, r)
	defer br.done()
	// Grow with what arrives, never past the announced length or limit (+1 byte, to see EOF
	// or a body longer than either).
	most := limit + 1
	if r.ContentLength >= 0 {
		most = r.ContentLength + 1
	}
	buf := make([]byte, 0, min(most, 64<<10))
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return nil, bodyTooLarge(limit, -1)
			}
			grown := make([]byte, len(buf), min(most, 2*int64(cap(buf))))
			copy(grown, buf)
			buf = grown
		}
		k, err := br.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if int64(len(buf)) > limit {
			return nil, bodyTooLarge(limit, -1)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, ErrBodyTooSlow) {
				return nil, err
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("%w: %w", engine.ErrTruncatedBody, err)
			}
			return nil, fmt.Errorf("%w: reading the body: %w", engine.ErrTruncatedBody, err)
		}
	}
	if r.ContentLength >= 0 && int64(len(buf)) != r.ContentLength {
		return nil, fmt.Errorf("%w: %d of %d bytes", engine.ErrTruncatedBody, len(buf), r.ContentLength)
	}
	return buf, nil
}

func bodyTooLarge(limit, length int64) error {
	msg := fmt.Errorf("%w: limit %d", engine.ErrBodyTooLarge, limit)
	if length >= 0 {
		msg = fmt.Errorf("%w: %d bytes, limit %d", engine.ErrBodyTooLarge, length, limit)
	}
	return engine.WithDetails(msg, "limit", strconv.FormatInt(limit, 10))
}

// source names the uploader of a request for the pending buffer's quotas: its IP address.
func source(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
