package nodeclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// Request is one request to a node.
type Request struct {
	Method string
	// Path is the route's path with its query.
	Path        string
	Body        Body // nil: no body
	ContentType string
	// Limit is the most response body bytes accepted; a longer answer is invalid.
	Limit int64
	// Timeout bounds the request (0: the client's default).
	Timeout time.Duration
	// Into, if not nil, receives the response body (grown if needed) instead of a pooled
	// buffer; the body then stays the caller's after Release.
	Into *[]byte
}

// Body is a request body that can be read again from its start (for retries).
type Body interface {
	// Len is the body's length in bytes.
	Len() int64
	// Reader returns a new reader of the whole body.
	Reader() io.Reader
}

// Bytes returns b as a Body.
func Bytes(b []byte) Body { return bytesBody(b) }

type bytesBody []byte

func (b bytesBody) Len() int64        { return int64(len(b)) }
func (b bytesBody) Reader() io.Reader { return bytes.NewReader(b) }

// Response is a 2xx answer.
type Response struct {
	Status int
	Body   []byte
	buf    *[]byte
	pool   *bufPool
}

// Release returns the body's buffer to the pool; the body must not be used afterwards.
func (r *Response) Release() {
	if r != nil && r.pool != nil && r.buf != nil {
		r.pool.put(r.buf)
		r.buf, r.Body = nil, nil
	}
}

// Doer sends one request to a node: it returns the answer of a 2xx status, or an *Error.
// Retries and limits are Doers that wrap another (see Retry and LimitBytes), applied with
// Client.With.
type Doer interface {
	Do(ctx context.Context, req *Request) (*Response, error)
}

// DoerFunc adapts a function to a Doer.
type DoerFunc func(ctx context.Context, req *Request) (*Response, error)

// Do implements Doer.
func (f DoerFunc) Do(ctx context.Context, req *Request) (*Response, error) { return f(ctx, req) }

// RetryPolicy retries failed requests with exponential backoff and ±20% jitter.
type RetryPolicy struct {
	// MaxRetries is how many times a request is retried after its first attempt.
	MaxRetries int
	// MinBackoff is the wait before the first retry, doubled per retry up to MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Retryable decides which errors are retried (default IsRetryable).
	Retryable func(error) bool
}

// backoff returns the wait before retry attempt (1-based).
func (p RetryPolicy) backoff(attempt int) time.Duration {
	d := float64(p.MinBackoff) * math.Pow(2, float64(attempt-1))
	if p.MaxBackoff > 0 {
		d = min(d, float64(p.MaxBackoff))
	}
	return time.Duration(d * (0.8 + 0.4*rand.Float64()))
}

// Do runs f until it succeeds, fails with an error not worth retrying, runs out of retries,
// or ctx ends.
func (p RetryPolicy) Do(ctx context.Context, f func() error) error {
	retryable := p.Retryable
	if retryable == nil {
		retryable = IsRetryable
	}
	for attempt := 0; ; attempt++ {
		err := f()
		if err == nil || !retryable(err) || attempt >= p.MaxRetries || ctx.Err() != nil {
			if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
				err = fmt.Errorf("%w (%w)", ctx.Err(), err)
			}
			return err
		}
		t := time.NewTimer(p.backoff(attempt + 1))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// Retry returns a wrapper that retries requests under p.
func Retry(p RetryPolicy) func(Doer) Doer {
	return func(next Doer) Doer {
		return DoerFunc(func(ctx context.Context, req *Request) (*Response, error) {
			var resp *Response
			err := p.Do(ctx, func() error {
				var err error
				resp, err = next.Do(ctx, req)
				return err
			})
			return resp, err
		})
	}
}

// LimitBytes returns a wrapper that holds a request body's length (at least 1, at most size)
// of sem, a semaphore of the given size, while the request runs: a bound on the bytes of
// uploads in flight, shared by every node it wraps.
func LimitBytes(sem *semaphore.Weighted, size int64) func(Doer) Doer {
	return func(next Doer) Doer {
		return DoerFunc(func(ctx context.Context, req *Request) (*Response, error) {
			var n int64 = 1
			if req.Body != nil {
				n = min(max(req.Body.Len(), 1), size)
			}
			if err := sem.Acquire(ctx, n); err != nil {
				return nil, err
			}
			defer sem.Release(n)
			return next.Do(ctx, req)
		})
	}
}

// bufPool recycles response buffers.
type bufPool struct{ p sync.Pool }

// get returns a buffer of n bytes (contents undefined).
func (bp *bufPool) get(n int) *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok && cap(*b) >= n {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n)
	return &b
}

func (bp *bufPool) put(b *[]byte) { bp.p.Put(b) }
