package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// The daemon's resource bounds (package doc, "Limits"):
//
//   - a request holds a concurrency slot of its role only while it works: a PUT takes its
//     publisher slot once its body is in memory; a GET takes an aggregator slot once its query
//     is checked, and holds it while it writes;
//   - PUT bodies being received are bounded in bytes (recvBudget), growing with what arrived,
//     never with what a Content-Length announces;
//   - a body must keep arriving: every BodyRateWindow brings at least MinBodyRate×BodyRateWindow
//     bytes, or the request ends with 408 (a rate, not a deadline on the whole body, so a
//     large upload on a slow but moving link completes);
//   - a response write that the client does not take within WriteStallTimeout (per piece of
//     writePiece bytes) breaks the connection, which frees the slot.

var (
	// errOverloaded is returned when every slot and queue place of a role is taken → 429.
	errOverloaded = errors.New("daemon: too many requests")
	// errBufferFull: the bodies being received fill MaxReceiveBuffer → 429.
	errBufferFull = errors.New("daemon: too many request bodies being received")
	// errBodyTimeout: a body arrived slower than MinBodyRate → 408.
	errBodyTimeout = errors.New("daemon: request body too slow")
	// errShortBody: the body ended before its Content-Length → 400.
	errShortBody = errors.New("daemon: request body shorter than its Content-Length")
)

// retryAfter is the Retry-After of a 429, in seconds.
const retryAfter = "1"

// writePiece is the largest piece of a response written under one write deadline.
const writePiece = 64 << 10

// recvChunk is the first allocation of a body of unknown or large length; buffers grow by
// doubling from there, each growth reserved in the receive budget first.
const recvChunk = 64 << 10

// limiter admits max requests at once and lets buffered more wait.
type limiter struct {
	active chan struct{}
	queue  chan struct{}
}

func newLimiter(max, buffered int) *limiter {
	return &limiter{active: make(chan struct{}, max), queue: make(chan struct{}, max+buffered)}
}

// acquire takes a slot, waiting in the queue if every slot is taken; it fails at once with
// errOverloaded when the queue is full too.
func (l *limiter) acquire(ctx context.Context) (func(), error) {
	select {
	case l.queue <- struct{}{}:
	default:
		return nil, errOverloaded
	}
	select {
	case l.active <- struct{}{}:
	case <-ctx.Done():
		<-l.queue
		return nil, ctx.Err()
	}
	return func() { <-l.active; <-l.queue }, nil
}

// byteBudget bounds the bytes held by request bodies being received.
type byteBudget struct {
	mu   sync.Mutex
	used int64
	max  int64
}

// take reserves n bytes, or reports that they are not available.
func (b *byteBudget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

func (b *byteBudget) give(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

func (b *byteBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// receiveBody reads a PUT body of at most maxSize bytes into memory, enforcing the
// minimum transfer rate and the receive budget; the budget is given back when it returns (the
// body then belongs to the publisher's bounded queue).
//
// With spill, a body larger than Config.SpillAbove goes to a temporary file instead (see
// spill.go); the caller closes the received body.
func (s *Server) receiveBody(w http.ResponseWriter, r *http.Request, maxSize int64, spill bool) (*received, error) {
	limit := maxSize
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	if r.ContentLength >= 0 {
		limit = r.ContentLength
	}
	rc := http.NewResponseController(w)
	body := &rateFloorReader{r: http.MaxBytesReader(w, r.Body, maxSize), rc: rc, window: s.cfg.BodyRateWindow,
		perWindow: max(1, int64(float64(s.cfg.MinBodyRate)*s.cfg.BodyRateWindow.Seconds())), mark: time.Now()}
	// Whatever happens, the read deadline must not outlive the body: net/http starts a
	// background read of the connection as the body ends, and a deadline expiring there would
	// cancel the request's context. (A deadline that expires in the microseconds between the
	// last read and this reset still does: the store of a client at the very edge of the
	// minimum rate can fail that way, never hang.)
	defer rc.SetReadDeadline(time.Time{})

	spillAt := int64(-1)
	if spill && s.spills() {
		spillAt = s.cfg.SpillAbove
	}
	if spillAt >= 0 && r.ContentLength > spillAt {
		return s.spillBody(body, nil, maxSize, r.ContentLength)
	}
	var buf []byte
	var reserved int64
	defer func() { s.recv.give(reserved) }()
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) == limit && r.ContentLength >= 0 {
				// Everything announced arrived; anything more is a protocol error that
				// net/http reports on the next read.
				var one [1]byte
				if n, err := body.Read(one[:]); n > 0 || err != io.EOF {
					if err == nil || err == io.EOF {
						err = &http.MaxBytesError{Limit: limit}
					}
					return nil, bodyError(err)
				}
				return &received{data: buf, size: int64(len(buf))}, nil
			}
			grown := min(max(2*int64(cap(buf)), recvChunk), limit+1)
			if r.ContentLength >= 0 {
				grown = min(grown, limit)
			}
			if spillAt >= 0 && grown > spillAt {
				return s.spillBody(body, buf, maxSize, r.ContentLength)
			}
			// The budget counts buffer capacity (at most twice what arrived, plus the first
			// chunk); the old buffer, garbage after the copy, is not counted.
			if !s.recv.take(grown - reserved) {
				return nil, fmt.Errorf("%w: %d bytes held (MaxReceiveBuffer)", errBufferFull, s.recv.inUse())
			}
			nb := make([]byte, len(buf), grown)
			copy(nb, buf)
			buf, reserved = nb, grown
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			if r.ContentLength >= 0 && int64(len(buf)) < r.ContentLength {
				return nil, fmt.Errorf("%w: %d of %d bytes", errShortBody, len(buf), r.ContentLength)
			}
			return &received{data: buf, size: int64(len(buf))}, nil
		}
		if err != nil {
			return nil, bodyError(err)
		}
	}
}

// bodyError classifies a body read error.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: %w", errBodyTimeout, err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %w", errShortBody, err)
	}
	return fmt.Errorf("reading the body: %w", err)
}

// rateFloorReader reads a request body that must bring perWindow bytes in every window: the
// connection's read deadline is the end of the current window, which moves on each time
// perWindow more bytes have arrived.
type rateFloorReader struct {
	r         io.Reader
	rc        *http.ResponseController
	window    time.Duration
	perWindow int64
	mark      time.Time // start of the current window
	got       int64     // bytes since mark
	deadline  time.Time // the deadline set on the connection
}

func (b *rateFloorReader) Read(p []byte) (int, error) {
	if d := b.mark.Add(b.window); !d.Equal(b.deadline) {
		// ErrNotSupported (a connection without deadlines) leaves the body unbounded.
		b.rc.SetReadDeadline(d)
		b.deadline = d
	}
	n, err := b.r.Read(p)
	if b.got += int64(n); b.got >= b.perWindow {
		b.mark, b.got = time.Now(), 0
	}
	return n, err
}

// stallWriter writes a response in pieces, each with a write deadline WriteStallTimeout
// ahead, so that a client that stops reading is disconnected instead of holding its request
// (and its slot) forever.
type stallWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (w *stallWriter) Write(p []byte) (int, error) {
	var n int
	for len(p) > 0 {
		k := min(len(p), writePiece)
		w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
		m, err := w.ResponseWriter.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

func (w *stallWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
