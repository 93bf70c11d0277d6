package nodeclient

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/nodetls"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

// fakeNode is a server on 127.0.0.1 with a node's TLS identity and a handler the test sets;
// like a node it serves TLS, and plain HTTP to loopback clients (nodetls.Listener).
type fakeNode struct {
	node Node
	key  *crypto.BLSSecretKey
	mux  *http.ServeMux
	srv  *http.Server
	cert tls.Certificate
}

func startFake(t *testing.T) *fakeNode {
	t.Helper()
	tk, err := nodetls.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := nodetls.SelfSigned(tk, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := nodetls.PublicKeyBytes(&tk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	bk, err := crypto.GenerateBLSKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNode{key: bk, mux: http.NewServeMux(), cert: cert}
	f.node = Node{Name: "fake", Address: ln.Addr().String(), NetworkKey: pub, BLSKey: bk.PublicKey()}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(true)
	protos.SetUnencryptedHTTP2(true)
	f.srv = &http.Server{Handler: f.mux, TLSConfig: nodetls.ServerConfig(cert), ReadHeaderTimeout: 5 * time.Second, Protocols: &protos}
	go f.srv.Serve(nodetls.NewListener(ln, f.srv.TLSConfig, nodetls.ListenerOptions{}))
	t.Cleanup(func() { f.srv.Close() })
	return f
}

func (f *fakeNode) client(t *testing.T) *Client {
	t.Helper()
	return f.clientWith(t, Options{Timeout: 10 * time.Second})
}

func (f *fakeNode) clientWith(t *testing.T, opts Options) *Client {
	t.Helper()
	p := NewPool(opts)
	t.Cleanup(p.Close)
	c, err := p.Client(f.node)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

func errorEnvelope(code int, status, reason, msg string) api.Error {
	return api.Error{Error: api.ErrorBody{Code: code, Status: status, Message: msg,
		Details: []api.ErrorInfo{{Type: api.ErrorInfoType, Reason: reason, Domain: api.Domain}}}}
}

// TestPinnedKey: over TLS, a node whose certificate does not hold the registered network key
// is not talked to.
func TestPinnedKey(t *testing.T) {
	f := startFake(t)
	f.mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, api.Success[api.ServiceHealthInfo]{})
	})
	if _, err := f.clientWith(t, Options{TLSOnLoopback: true}).Health(context.Background(), false); err != nil {
		t.Fatalf("health with the right key: %v", err)
	}
	other := startFake(t)
	wrong := f.node
	wrong.NetworkKey = other.node.NetworkKey
	p := NewPool(Options{TLSOnLoopback: true})
	defer p.Close()
	c, err := p.Client(wrong)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Health(context.Background(), false)
	var ne *Error
	if !errors.As(err, &ne) || ne.Status != 0 || !errors.Is(err, nodetls.ErrKeyMismatch) {
		t.Fatalf("health with another node's key: %v, want a transport error wrapping ErrKeyMismatch", err)
	}
	if !ne.Retryable() || !ne.Unresponsive() {
		t.Fatalf("a transport error should be retryable and unresponsive: %+v", ne)
	}
}

// TestErrorEnvelope: AIP-193 answers become *Error with the status, reason and message, and
// match the sentinel of their reason.
func TestErrorEnvelope(t *testing.T) {
	f := startFake(t)
	f.mux.HandleFunc("GET /v1/blobs/{blob_id}/status", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("blob_id") {
		case "notreg":
			writeJSON(w, 400, errorEnvelope(400, api.StatusFailedPrecondition, api.ReasonNotRegistered, "blob is not registered"))
		case "busy":
			writeJSON(w, 503, errorEnvelope(503, api.StatusUnavailable, api.ReasonBusy, "busy"))
		case "notassigned":
			writeJSON(w, 400, errorEnvelope(400, api.StatusFailedPrecondition, api.ReasonShardNotAssigned, "shard 3 in epoch 2"))
		case "plain":
			http.Error(w, "no such route", http.StatusNotFound)
		}
	})
	c := f.client(t)
	get := func(name string) *Error {
		t.Helper()
		_, err := getJSON[api.BlobStatus](context.Background(), c, c.request("GET", "/v1/blobs/"+name+"/status"))
		var ne *Error
		if !errors.As(err, &ne) {
			t.Fatalf("%s: %v, want an *Error", name, err)
		}
		return ne
	}
	if e := get("notreg"); e.Status != 400 || e.Reason != api.ReasonNotRegistered || e.Msg != "blob is not registered" ||
		!errors.Is(e, ErrNotRegistered) || e.Retryable() || e.Unresponsive() || !IsReason(e, api.ReasonNotRegistered) {
		t.Fatalf("not registered: %+v", e)
	}
	if e := get("busy"); !errors.Is(e, ErrBusy) || !e.Retryable() || !e.Unresponsive() {
		t.Fatalf("busy: %+v", e)
	}
	if e := get("notassigned"); !errors.Is(e, ErrShardNotAssigned) || e.Retryable() || e.Unresponsive() || errors.Is(e, ErrNotRegistered) {
		t.Fatalf("shard not assigned: %+v", e)
	}
	if e := get("plain"); e.Status != 404 || e.Reason != "" || e.NotFound() || errors.Is(e, ErrSliverNotFound) {
		t.Fatalf("a missing route: %+v", e)
	}
}

// TestBodyLimits: a body announced longer than the limit is refused unread; one without a
// length that runs past the limit is cut off; one shorter than announced fails; bodies read
// into pooled buffers come out exact.
func TestBodyLimits(t *testing.T) {
	f := startFake(t)
	payload := make([]byte, 100_000)
	rand.Read(payload)
	f.mux.HandleFunc("GET /body/{mode}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("mode") {
		case "exact":
			w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
			w.Write(payload)
		case "chunked":
			w.Write(payload[:50_000])
			w.(http.Flusher).Flush()
			w.Write(payload[50_000:])
		case "short":
			w.Header().Set("Content-Length", strconv.Itoa(len(payload)+10))
			w.Write(payload)
		}
	})
	c := f.client(t)
	do := func(mode string, limit int64) (*Response, error) {
		return c.Do(context.Background(), &Request{Method: "GET", Path: "/body/" + mode, Limit: limit})
	}
	for _, mode := range []string{"exact", "chunked"} {
		for range 3 { // again, through recycled buffers
			resp, err := do(mode, int64(len(payload)))
			if err != nil {
				t.Fatalf("%s: %v", mode, err)
			}
			if string(resp.Body) != string(payload) {
				t.Fatalf("%s: body of %d bytes differs", mode, len(resp.Body))
			}
			resp.Release()
		}
		_, err := do(mode, int64(len(payload))-1)
		if !errors.Is(err, ErrInvalidResponse) {
			t.Fatalf("%s past the limit: %v, want ErrInvalidResponse", mode, err)
		}
		if IsRetryable(err) {
			t.Fatalf("%s past the limit should not be retried", mode)
		}
	}
	if _, err := do("short", 1<<20); err == nil || errors.Is(err, ErrInvalidResponse) {
		t.Fatalf("a body shorter than its Content-Length: %v, want a transport error", err)
	}
}

// encodeSmall encodes a small blob for 10 shards.
func encodeSmall(t *testing.T) (*redstuff.Encoder, *redstuff.Encoding, *blob.MetadataWithID) {
	t.Helper()
	enc, err := redstuff.New(10)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 5000)
	rand.Read(data)
	e, err := enc.Encode(data)
	if err != nil {
		t.Fatal(err)
	}
	return enc, e, blob.NewMetadata(&e.Commitment)
}

// TestVerification: metadata, slivers, confirmations, recovery symbols and attestations are
// returned only when they verify; a node that serves anything else gets ErrInvalidResponse.
func TestVerification(t *testing.T) {
	enc, e, md := encodeSmall(t)
	_, _, md2 := encodeSmall(t)
	f := startFake(t)
	var lie atomic.Bool
	f.mux.HandleFunc("GET /v1/blobs/{blob_id}/metadata", func(w http.ResponseWriter, r *http.Request) {
		m := md
		if lie.Load() {
			m = md2
		}
		b, _ := m.MarshalBCS()
		w.Write(b)
	})
	f.mux.HandleFunc("GET /v1/blobs/{blob_id}/slivers/{pair}/{type}", func(w http.ResponseWriter, r *http.Request) {
		pair, _ := strconv.Atoi(r.PathValue("pair"))
		p, s := e.Pair(pair)
		sl := p
		if r.PathValue("type") == "secondary" {
			sl = s
		}
		b, _ := blob.MarshalSliverData(sl)
		if lie.Load() {
			b[len(b)/2] ^= 1
		}
		w.Write(b)
	})
	signer := f.key
	// The node confirms the blob as permanent, in epoch 3, whatever it is asked.
	confirm := func(w http.ResponseWriter, r *http.Request) {
		msg := protocol.StorageConfirmation{Epoch: 3, BlobID: md.ID, Persistence: protocol.Permanent}.Encode()
		sig := signer.Sign(msg)
		writeJSON(w, 200, api.Success[api.Confirmation]{Success: api.SuccessBody[api.Confirmation]{Code: 200,
			Data: api.Confirmation{Signed: &api.SignedMessage{SerializedMessage: msg, Signature: sig[:]}}}})
	}
	f.mux.HandleFunc("GET /v1/blobs/{blob_id}/confirmation/permanent", confirm)
	f.mux.HandleFunc("GET /v1/blobs/{blob_id}/confirmation/deletable/{object_id}", confirm)
	f.mux.HandleFunc("GET /v1/blobs/{blob_id}/recoverySymbols", func(w http.ResponseWriter, r *http.Request) {
		var syms []redstuff.RecoverySymbol
		for _, s := range r.URL.Query()["id"] {
			sid, _ := blob.ParseSymbolID(s)
			p, _ := e.Pair(int(sid.Primary))
			out, err := enc.RecoverySymbols(p, []int{int(sid.Secondary)})
			if err != nil {
				t.Error(err)
			}
			syms = append(syms, out...)
		}
		if lie.Load() {
			syms[0].Data[0] ^= 1
		}
		b, _ := blob.MarshalGeneralRecoverySymbols(syms)
		w.Write(b)
	})
	c := f.client(t)
	ctx := context.Background()
	p := enc.Params()
	ids := []blob.SymbolID{{Primary: 1, Secondary: 4}, {Primary: 2, Secondary: 4}}
	check := func(what string, lying bool, err error) {
		t.Helper()
		switch {
		case !lying && err != nil:
			t.Fatalf("%s from an honest node: %v", what, err)
		case lying && !errors.Is(err, ErrInvalidResponse):
			t.Fatalf("%s from a lying node: %v, want ErrInvalidResponse", what, err)
		}
	}
	for _, lying := range []bool{false, true} {
		lie.Store(lying)
		got, err := c.Metadata(ctx, md.ID, p)
		check("metadata", lying, err)
		if !lying && got.ID != md.ID {
			t.Fatal("metadata of another blob returned")
		}
		for _, a := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
			sl, err := c.Sliver(ctx, enc, md, 3, a, nil)
			check(a.String()+" sliver", lying, err)
			if !lying && (sl.Axis != a || sl.Index != p.SliverIndex(a, 3)) {
				t.Fatalf("%s sliver %d of pair 3", a, sl.Index)
			}
		}
		syms, err := c.RecoverySymbols(ctx, enc, md, ids, redstuff.Primary)
		check("recovery symbols", lying, err)
		if !lying && len(syms) != 2 {
			t.Fatalf("%d symbols, want 2", len(syms))
		}
	}
	// A symbol not asked for.
	lie.Store(false)
	if _, err := c.RecoverySymbols(ctx, enc, md, ids, redstuff.Secondary); !errors.Is(err, ErrInvalidResponse) {
		t.Fatalf("symbols of the other axis: %v, want ErrInvalidResponse", err)
	}
	// Confirmations: the right message and key; then the node's for its epoch when another
	// was asked (the node's own, of no use for the epoch asked, not a lie); another blob's or
	// persistence's; then another key.
	if _, _, err := c.Confirmation(ctx, md.ID, protocol.Permanent, 3, 0); err != nil {
		t.Fatalf("honest confirmation: %v", err)
	}
	if _, _, err := c.Confirmation(ctx, md.ID, protocol.Permanent, 4, 0); !errors.Is(err, ErrOtherEpoch) || errors.Is(err, ErrInvalidResponse) {
		t.Fatalf("confirmation of another epoch: %v, want ErrOtherEpoch", err)
	}
	if _, _, err := c.Confirmation(ctx, md.ID, protocol.Deletable(protocol.ObjectID{1}), 3, 0); !errors.Is(err, ErrInvalidResponse) {
		t.Fatalf("confirmation of another persistence: %v", err)
	}
	if signer, _ = crypto.GenerateBLSKey(rand.Reader); signer == nil {
		t.Fatal("key")
	}
	for _, epoch := range []uint32{3, 4} {
		if _, _, err := c.Confirmation(ctx, md.ID, protocol.Permanent, epoch, 0); !errors.Is(err, ErrInvalidResponse) || errors.Is(err, ErrOtherEpoch) {
			t.Fatalf("confirmation (asked for epoch %d) signed by another key: %v", epoch, err)
		}
	}
}

// TestRetryAndLimitBytes: Retry retries what may succeed later and stops on what will not;
// LimitBytes keeps the bodies of the requests in flight within its semaphore.
func TestRetryAndLimitBytes(t *testing.T) {
	f := startFake(t)
	var attempts atomic.Int32
	var mu sync.Mutex
	var inFlight, peak int64
	f.mux.HandleFunc("PUT /v1/blobs/{blob_id}/metadata", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("blob_id") {
		case "flaky":
			if attempts.Add(1) < 3 {
				writeJSON(w, 503, errorEnvelope(503, api.StatusUnavailable, api.ReasonBusy, "busy"))
				return
			}
		case "refused":
			attempts.Add(1)
			writeJSON(w, 400, errorEnvelope(400, api.StatusInvalidArgument, api.ReasonInvalidMetadata, "no"))
			return
		default:
			mu.Lock()
			inFlight += r.ContentLength
			peak = max(peak, inFlight)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			io.Copy(io.Discard, r.Body)
			mu.Lock()
			inFlight -= r.ContentLength
			mu.Unlock()
		}
		writeJSON(w, 201, api.Success[string]{Success: api.SuccessBody[string]{Code: 201, Data: "stored"}})
	})
	c := f.client(t)
	ctx := context.Background()
	policy := RetryPolicy{MaxRetries: 5, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	put := func(c *Client, name string, body []byte) (int, error) {
		req := c.request("PUT", "/v1/blobs/"+name+"/metadata")
		req.Body = Bytes(body)
		resp, err := c.Do(ctx, req)
		if err != nil {
			return 0, err
		}
		resp.Release()
		return resp.Status, nil
	}
	if code, err := put(c.With(Retry(policy)), "flaky", []byte("x")); err != nil || code != 201 || attempts.Load() != 3 {
		t.Fatalf("flaky node: %d %v after %d attempts, want 201 after 3", code, err, attempts.Load())
	}
	attempts.Store(0)
	if _, err := put(c.With(Retry(policy)), "refused", []byte("x")); err == nil || attempts.Load() != 1 {
		t.Fatalf("a refused request: %v after %d attempts, want an error after 1", err, attempts.Load())
	}
	const limit = 3000
	sem := semaphore.NewWeighted(limit)
	lc := c.With(LimitBytes(sem, limit))
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			if _, err := put(lc, "ok", make([]byte, 1000)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if peak > limit || peak < 1000 {
		t.Fatalf("peak of %d body bytes in flight, limit %d", peak, limit)
	}
}

// TestLatency: a node's score follows its answers and ranks failing nodes last for a while.
func TestLatency(t *testing.T) {
	var fast, slow, failing Latency
	fast.Observe(time.Millisecond, true)
	slow.Observe(100*time.Millisecond, true)
	failing.Observe(time.Millisecond, true)
	failing.Observe(0, false)
	if !(fast.Score() < slow.Score() && slow.Score() < failing.Score()) || !failing.Failing() || fast.Failing() {
		t.Fatalf("scores fast %v slow %v failing %v", fast.Score(), slow.Score(), failing.Score())
	}
	fast.MarkSlow()
	if !fast.Failing() || fast.Score() < slow.Score() {
		t.Fatal("a node marked slow should rank last")
	}
	fast.Observe(time.Millisecond, true)
	if fast.Failing() {
		t.Fatal("a node that answered should no longer count as slow")
	}
	if m := slow.Mean(); m != 100*time.Millisecond {
		t.Fatalf("mean %v", m)
	}
}

// TestLatencyFloor: the floor is the least response time of the last 30 to 60 s, without
// failures, and forgets older ones.
func TestLatencyFloor(t *testing.T) {
	var l Latency
	if l.Floor() != 0 {
		t.Fatal("floor of an unmeasured node")
	}
	t0 := time.Now()
	l.observeAt(t0, 50*time.Millisecond, true)
	l.observeAt(t0.Add(time.Second), 10*time.Millisecond, true)
	l.observeAt(t0.Add(2*time.Second), 80*time.Millisecond, true)
	l.observeAt(t0.Add(3*time.Second), time.Millisecond, false)
	if f := l.Floor(); f != 10*time.Millisecond {
		t.Fatalf("floor %v, want 10ms", f)
	}
	if m := l.Mean(); m <= 10*time.Millisecond {
		t.Fatalf("mean %v should exceed the floor", m)
	}
	// A window later the 10 ms is still remembered; two windows later it is gone.
	l.observeAt(t0.Add(floorWindow+2*time.Second), 40*time.Millisecond, true)
	if f := l.Floor(); f != 10*time.Millisecond {
		t.Fatalf("floor one window later %v, want 10ms", f)
	}
	l.observeAt(t0.Add(2*floorWindow+4*time.Second), 60*time.Millisecond, true)
	if f := l.Floor(); f != 40*time.Millisecond {
		t.Fatalf("floor two windows later %v, want 40ms", f)
	}
}

// FuzzDecodeError: any error body decodes without panicking, keeping the status and, for an
// AIP-193 envelope, its reason.
func FuzzDecodeError(f *testing.F) {
	b, _ := json.Marshal(errorEnvelope(400, api.StatusFailedPrecondition, api.ReasonNotRegistered, "x"))
	f.Add(400, b)
	f.Add(503, []byte(`{"error":{"code":503,"details":[{"reason":"BUSY"}]}}`))
	f.Add(404, []byte("404 page not found\n"))
	f.Add(500, []byte(`{"error":null}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := decodeError("n", "GET /", status, body)
		if e.Status != status {
			t.Fatalf("status %d, want %d", e.Status, status)
		}
		_ = e.Error()
		_ = errors.Is(e, ErrBusy)
	})
}
