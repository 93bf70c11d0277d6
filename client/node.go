package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

func randFloat() float64 { return rand.Float64() }

// nodeConn is the client's connection to one storage node.
type nodeConn struct {
	name, addr, base string
	pub              crypto.BLSPublicKey
	hc               *http.Client
	log              *slog.Logger
	lat              latency

	batchMu sync.Mutex
	// batch: 0 unknown, 1 the node offers the batched upload, -1 it does not.
	batch int
}

// do sends one request and returns the response body of a 2xx answer (read up to limit
// bytes), or a *NodeError.
func (n *nodeConn) do(ctx context.Context, timeout time.Duration, method, path string, body io.Reader, contentType string, limit int64) (int, []byte, error) {
	return n.doInto(ctx, timeout, method, path, body, contentType, limit, nil)
}

// doInto is do, reading the response body into *into (grown if needed) when into is not nil.
func (n *nodeConn) doInto(ctx context.Context, timeout time.Duration, method, path string, body io.Reader, contentType string, limit int64, into *[]byte) (int, []byte, error) {
	op := method + " " + path
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, n.base+path, body)
	if err != nil {
		return 0, nil, &NodeError{Node: n.name, Op: op, Err: err}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if l, ok := body.(interface{ Len() int }); ok && body != nil && req.ContentLength == 0 {
		req.ContentLength = int64(l.Len()) // a segReader: send a Content-Length, not chunks
		if req.ContentLength == 0 {
			req.Body = http.NoBody
		}
	}
	start := time.Now()
	resp, err := n.hc.Do(req)
	if err != nil {
		n.lat.observe(0, false)
		return 0, nil, &NodeError{Node: n.name, Op: op, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		ne := &NodeError{Node: n.name, Op: op, Status: resp.StatusCode, Msg: string(b)}
		var e api.Error
		if json.Unmarshal(b, &e) == nil && e.Error.Code != 0 {
			ne.Reason, ne.Msg = e.Error.Reason(), e.Error.Message
		}
		// A node that answers is alive: errors about the request do not count against it.
		n.lat.observe(time.Since(start), resp.StatusCode < 500)
		return resp.StatusCode, nil, ne
	}
	b, err := readBody(resp, limit, into)
	if err != nil {
		n.lat.observe(0, false)
		return resp.StatusCode, nil, &NodeError{Node: n.name, Op: op, Err: err}
	}
	if int64(len(b)) > limit {
		n.lat.observe(0, false)
		return resp.StatusCode, nil, &NodeError{Node: n.name, Op: op, Status: resp.StatusCode,
			Msg: fmt.Sprintf("response longer than %d bytes", limit), Err: ErrBadNode}
	}
	n.lat.observe(time.Since(start), true)
	return resp.StatusCode, b, nil
}

// getJSON fetches a JSON success envelope and returns its data.
func getJSON[T any](ctx context.Context, n *nodeConn, timeout time.Duration, path string) (T, error) {
	var zero T
	_, b, err := n.do(ctx, timeout, http.MethodGet, path, nil, "", 1<<20)
	if err != nil {
		return zero, err
	}
	var s api.Success[T]
	if err := json.Unmarshal(b, &s); err != nil {
		return zero, &NodeError{Node: n.name, Op: "GET " + path, Status: 200, Msg: "malformed JSON", Err: fmt.Errorf("%w: %w", ErrBadNode, err)}
	}
	return s.Success.Data, nil
}

// offersBatch reports whether the node offers the batched upload route (asking its health once).
func (n *nodeConn) offersBatch(ctx context.Context, timeout time.Duration) bool {
	n.batchMu.Lock()
	defer n.batchMu.Unlock()
	if n.batch != 0 {
		return n.batch > 0
	}
	h, err := getJSON[api.ServiceHealthInfo](ctx, n, timeout, api.RouteHealth)
	if err != nil {
		return false // unknown; ask again next time
	}
	n.batch = -1
	if h.SliverBatch {
		n.batch = 1
	}
	return n.batch > 0
}

func (n *nodeConn) noBatch() {
	n.batchMu.Lock()
	n.batch = -1
	n.batchMu.Unlock()
}

// metadata fetches and verifies a blob's metadata.
func (n *nodeConn) metadata(ctx context.Context, timeout time.Duration, id blob.ID, p redstuff.Params) (*blob.MetadataWithID, error) {
	path := api.MetadataPath(id.String())
	limit := int64(128 + 70*p.NShards)
	_, b, err := n.do(ctx, timeout, http.MethodGet, path, nil, "", limit)
	if err != nil {
		return nil, err
	}
	var md blob.MetadataWithID
	if err := md.UnmarshalBCS(b); err != nil {
		return nil, &NodeError{Node: n.name, Op: "GET " + path, Status: 200, Msg: "malformed metadata", Err: fmt.Errorf("%w: %w", ErrBadNode, err)}
	}
	if md.ID != id {
		return nil, &NodeError{Node: n.name, Op: "GET " + path, Status: 200, Msg: "metadata of another blob", Err: ErrBadNode}
	}
	if err := md.Verify(p); err != nil {
		return nil, &NodeError{Node: n.name, Op: "GET " + path, Status: 200, Msg: "metadata does not verify", Err: fmt.Errorf("%w: %w", ErrBadNode, err)}
	}
	return &md, nil
}

// primarySliver fetches primary sliver (= pair) index and verifies it against md.
func (n *nodeConn) primarySliver(ctx context.Context, timeout time.Duration, enc *redstuff.Encoder, md *blob.MetadataWithID, index int) (redstuff.Sliver, error) {
	return n.primarySliverInto(ctx, timeout, enc, md, index, nil)
}

// primarySliverInto is primarySliver reading the response into *into (see doInto); the
// sliver's data aliases it.
func (n *nodeConn) primarySliverInto(ctx context.Context, timeout time.Duration, enc *redstuff.Encoder, md *blob.MetadataWithID, index int, into *[]byte) (redstuff.Sliver, error) {
	p := enc.Params()
	path := api.SliverPath(md.ID.String(), index, "primary")
	ss, err := md.Metadata.SymbolSize(p)
	if err != nil {
		return redstuff.Sliver{}, fmt.Errorf("client: %w", err)
	}
	_, b, err := n.doInto(ctx, timeout, http.MethodGet, path, nil, "", int64(p.PrimarySliverLen(ss))+64, into)
	if err != nil {
		return redstuff.Sliver{}, err
	}
	sl, err := blob.UnmarshalSliverData(b, redstuff.Primary)
	if err == nil && sl.Index != index {
		err = fmt.Errorf("sliver %d instead of %d", sl.Index, index)
	}
	if err == nil {
		err = blob.VerifySliver(enc, md, sl)
	}
	if err != nil {
		return redstuff.Sliver{}, &NodeError{Node: n.name, Op: "GET " + path, Status: 200, Msg: "invalid sliver", Err: fmt.Errorf("%w: %w", ErrBadNode, err)}
	}
	return sl, nil
}

// confirmation asks for a storage confirmation and verifies it: intent, epoch, blob ID,
// persistence type and the BLS signature under the member's registered key.
func (n *nodeConn) confirmation(ctx context.Context, timeout, wait time.Duration, id blob.ID, pt protocol.PersistenceType, epoch uint32) ([]byte, crypto.BLSSignature, error) {
	var path string
	if pt.Deletable {
		path = api.DeletableConfirmationPath(id.String(), pt.ObjectID.String())
	} else {
		path = api.PermanentConfirmationPath(id.String())
	}
	path += "?" + api.QueryWaitForReg + "=true&" + api.QueryWaitMillis + "=" + strconv.FormatInt(wait.Milliseconds(), 10)
	conf, err := getJSON[api.Confirmation](ctx, n, timeout+wait, path)
	if err != nil {
		return nil, crypto.BLSSignature{}, err
	}
	bad := func(msg string, err error) error {
		return &NodeError{Node: n.name, Op: "GET " + path, Status: 200, Msg: msg, Err: fmt.Errorf("%w: %w", ErrBadNode, err)}
	}
	if conf.Signed == nil {
		return nil, crypto.BLSSignature{}, bad("no signed message", errors.New("empty confirmation"))
	}
	sc, err := protocol.DecodeStorageConfirmation(conf.Signed.SerializedMessage)
	if err != nil {
		return nil, crypto.BLSSignature{}, bad("malformed confirmation", err)
	}
	want := protocol.StorageConfirmation{Epoch: epoch, BlobID: id, Persistence: pt}
	if sc != want {
		return nil, crypto.BLSSignature{}, bad("confirmation of another message",
			fmt.Errorf("epoch %d blob %s %+v, want epoch %d blob %s %+v", sc.Epoch, sc.BlobID, sc.Persistence, epoch, id, pt))
	}
	if len(conf.Signed.Signature) != crypto.BLSSignatureLen {
		return nil, crypto.BLSSignature{}, bad("malformed signature", fmt.Errorf("%d bytes", len(conf.Signed.Signature)))
	}
	sig := crypto.BLSSignature(conf.Signed.Signature)
	if err := crypto.VerifyBLS(n.pub, conf.Signed.SerializedMessage, sig); err != nil {
		return nil, crypto.BLSSignature{}, bad("bad signature", err)
	}
	return conf.Signed.SerializedMessage, sig, nil
}

// readBody reads a success response's body, at most limit bytes (one more tells that it was
// longer): straight into a buffer of the announced length when there is one, instead of
// growing a buffer by doubling. into, if not nil, is reused (and grown) for the body.
func readBody(resp *http.Response, limit int64, into *[]byte) ([]byte, error) {
	var buf []byte
	if into != nil {
		buf = (*into)[:0]
	}
	if cl := resp.ContentLength; cl >= 0 && cl <= limit {
		if int64(cap(buf)) < cl {
			buf = make([]byte, cl)
		}
		buf = buf[:cl]
		if into != nil {
			*into = buf
		}
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return nil, err
		}
		// A body longer than announced is a protocol error the transport reports here.
		var one [1]byte
		if k, err := resp.Body.Read(one[:]); k > 0 || (err != nil && err != io.EOF) {
			if err == nil {
				err = fmt.Errorf("body longer than its Content-Length %d", cl)
			}
			return nil, err
		}
		return buf, nil
	}
	b := bytes.NewBuffer(buf)
	_, err := b.ReadFrom(io.LimitReader(resp.Body, limit+1))
	if into != nil {
		*into = b.Bytes()
	}
	return b.Bytes(), err
}

// bufPool recycles the buffers of fetched slivers, so that reading a large blob does not
// touch fresh memory for every sliver.
type bufPool struct{ p sync.Pool }

func (bp *bufPool) get() *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return b
	}
	return new([]byte)
}

func (bp *bufPool) put(b *[]byte) {
	if b != nil {
		bp.p.Put(b)
	}
}
