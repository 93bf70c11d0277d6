package nodeclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

// jsonLimit bounds the JSON answers (statuses, confirmations, health).
const jsonLimit = 1 << 20

func (c *Client) request(method, path string) *Request {
	return &Request{Method: method, Path: path, Limit: jsonLimit, Timeout: c.timeout}
}

func pendingQuery(path string, pending bool) string {
	if pending {
		return path + "?" + api.QueryPending + "=true"
	}
	return path
}

// getJSON fetches a JSON success envelope and returns its data.
func getJSON[T any](ctx context.Context, c *Client, req *Request) (T, error) {
	var zero T
	resp, err := c.Do(ctx, req)
	if err != nil {
		return zero, err
	}
	defer resp.Release()
	var s api.Success[T]
	if err := json.Unmarshal(resp.Body, &s); err != nil {
		return zero, invalid(c.name, req.Method+" "+req.Path, resp.Status, "malformed JSON", err)
	}
	return s.Success.Data, nil
}

// Metadata fetches a blob's metadata and verifies it: well formed, of the blob asked for, and
// consistent with the blob ID for the parameters p.
func (c *Client) Metadata(ctx context.Context, id blob.ID, p redstuff.Params) (*blob.MetadataWithID, error) {
	req := c.request(http.MethodGet, api.MetadataPath(id.String()))
	req.Limit = int64(blob.IDLen) + api.MetadataLimit(p.NShards)
	resp, err := c.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	defer resp.Release()
	op := "GET " + req.Path
	var md blob.MetadataWithID
	if err := md.UnmarshalBCS(resp.Body); err != nil {
		return nil, invalid(c.name, op, resp.Status, "malformed metadata", err)
	}
	if md.ID != id {
		return nil, invalid(c.name, op, resp.Status, "metadata of another blob", nil)
	}
	if err := md.Verify(p); err != nil {
		return nil, invalid(c.name, op, resp.Status, "metadata does not verify", err)
	}
	return &md, nil
}

// PutMetadata uploads a blob's BCS metadata (without its ID); pending asks the node to buffer
// it if it has not seen the blob registered yet. It returns the answer's status (201 stored,
// 202 buffered, 200 already held).
func (c *Client) PutMetadata(ctx context.Context, id blob.ID, md []byte, pending bool) (int, error) {
	req := c.request(http.MethodPut, pendingQuery(api.MetadataPath(id.String()), pending))
	req.Body, req.ContentType = Bytes(md), api.ContentTypeOctetStream
	resp, err := c.Do(ctx, req)
	if err != nil {
		return 0, err
	}
	resp.Release()
	return resp.Status, nil
}

// Sliver fetches the sliver of axis a in pair pair and verifies it against md. The body is
// read into *into if into is not nil (grown if needed), else into a new buffer; the sliver's
// data aliases it.
func (c *Client) Sliver(ctx context.Context, enc *redstuff.Encoder, md *blob.MetadataWithID, pair int, a redstuff.Axis, into *[]byte) (redstuff.Sliver, error) {
	p := enc.Params()
	ss, err := md.Metadata.SymbolSize(p)
	if err != nil {
		return redstuff.Sliver{}, fmt.Errorf("nodeclient: %w", err)
	}
	if into == nil {
		into = new([]byte)
	}
	req := c.request(http.MethodGet, api.SliverPath(md.ID.String(), pair, a.String()))
	req.Limit = int64(p.SliverLen(a, ss)) + 64
	req.Into = into
	resp, err := c.Do(ctx, req)
	if err != nil {
		return redstuff.Sliver{}, err
	}
	sl, err := blob.UnmarshalSliverData(resp.Body, a)
	if want := p.SliverIndex(a, pair); err == nil && sl.Index != want {
		err = fmt.Errorf("sliver %d instead of %d", sl.Index, want)
	}
	if err == nil {
		err = blob.VerifySliver(enc, md, sl)
	}
	if err != nil {
		return redstuff.Sliver{}, invalid(c.name, "GET "+req.Path, resp.Status, "invalid sliver", err)
	}
	return sl, nil
}

// PutSliver uploads one sliver (its BCS SliverData); see PutMetadata for pending and the
// status.
func (c *Client) PutSliver(ctx context.Context, id blob.ID, pair int, a redstuff.Axis, body Body, pending bool) (int, error) {
	req := c.request(http.MethodPut, pendingQuery(api.SliverPath(id.String(), pair, a.String()), pending))
	req.Body, req.ContentType = body, api.ContentTypeOctetStream
	resp, err := c.Do(ctx, req)
	if err != nil {
		return 0, err
	}
	resp.Release()
	return resp.Status, nil
}

// PutSliverBatch uploads a batched body (api.BatchWriter framing) of a blob's metadata and
// slivers.
func (c *Client) PutSliverBatch(ctx context.Context, id blob.ID, body Body, pending bool) (api.BatchResult, error) {
	req := c.request(http.MethodPut, pendingQuery(api.SliverBatchPath(id.String()), pending))
	req.Body, req.ContentType = body, api.ContentTypeSliverBatch
	return getJSON[api.BatchResult](ctx, c, req)
}

// MetadataStatus asks whether the node holds a blob's metadata.
func (c *Client) MetadataStatus(ctx context.Context, id blob.ID) (api.StoredOnNodeStatus, error) {
	return getJSON[api.StoredOnNodeStatus](ctx, c, c.request(http.MethodGet, api.MetadataStatusPath(id.String())))
}

// SliverStatus asks whether the node holds a sliver.
func (c *Client) SliverStatus(ctx context.Context, id blob.ID, pair int, a redstuff.Axis) (api.StoredOnNodeStatus, error) {
	return getJSON[api.StoredOnNodeStatus](ctx, c, c.request(http.MethodGet, api.SliverStatusPath(id.String(), pair, a.String())))
}

// BlobStatus returns the node's status of a blob.
func (c *Client) BlobStatus(ctx context.Context, id blob.ID) (api.BlobStatus, error) {
	return getJSON[api.BlobStatus](ctx, c, c.request(http.MethodGet, api.BlobStatusPath(id.String())))
}

// Health returns the node's health (with the status of each owned shard if detailed).
func (c *Client) Health(ctx context.Context, detailed bool) (api.ServiceHealthInfo, error) {
	path := api.RouteHealth
	if detailed {
		path += "?" + api.QueryDetailed + "=true"
	}
	return getJSON[api.ServiceHealthInfo](ctx, c, c.request(http.MethodGet, path))
}

// OffersBatch reports whether the node offers the batched upload route, asking its health
// once (an unanswered question is asked again next time).
func (c *Client) OffersBatch(ctx context.Context) bool {
	c.c.mu.Lock()
	known := c.c.batch
	c.c.mu.Unlock()
	if known != 0 {
		return known > 0
	}
	h, err := c.Health(ctx, false)
	if err != nil {
		return false
	}
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	c.c.batch = -1
	if h.SliverBatch {
		c.c.batch = 1
	}
	return c.c.batch > 0
}

// NoBatch records that the node does not serve the batched route after all.
func (c *Client) NoBatch() {
	c.c.mu.Lock()
	c.c.batch = -1
	c.c.mu.Unlock()
}

// Confirmation asks for the node's storage confirmation of a blob, letting the node wait up
// to wait for the registration, and verifies it: the intent, epoch, blob ID and persistence
// type of the message, and its BLS signature under the node's registered key. It returns the
// serialized message and the signature.
func (c *Client) Confirmation(ctx context.Context, id blob.ID, pt protocol.PersistenceType, epoch uint32, wait time.Duration) ([]byte, crypto.BLSSignature, error) {
	var path string
	if pt.Deletable {
		path = api.DeletableConfirmationPath(id.String(), pt.ObjectID.String())
	} else {
		path = api.PermanentConfirmationPath(id.String())
	}
	path += "?" + api.QueryWaitForReg + "=true&" + api.QueryWaitMillis + "=" + strconv.FormatInt(wait.Milliseconds(), 10)
	req := c.request(http.MethodGet, path)
	req.Timeout += wait
	conf, err := getJSON[api.Confirmation](ctx, c, req)
	if err != nil {
		return nil, crypto.BLSSignature{}, err
	}
	bad := func(msg string, err error) error { return invalid(c.name, "GET "+path, http.StatusOK, msg, err) }
	if conf.Signed == nil {
		return nil, crypto.BLSSignature{}, bad("no signed message", errors.New("empty confirmation"))
	}
	sc, err := protocol.DecodeStorageConfirmation(conf.Signed.SerializedMessage)
	if err != nil {
		return nil, crypto.BLSSignature{}, bad("malformed confirmation", err)
	}
	want := protocol.StorageConfirmation{Epoch: epoch, BlobID: id, Persistence: pt}
	other := sc.Epoch != epoch && sc.BlobID == id && sc.Persistence == pt
	if sc != want && !other {
		return nil, crypto.BLSSignature{}, bad("confirmation of another message",
			fmt.Errorf("epoch %d blob %s %+v, want epoch %d blob %s %+v", sc.Epoch, sc.BlobID, sc.Persistence, epoch, id, pt))
	}
	sig, err := c.verifySignature(conf.Signed)
	if err != nil {
		return nil, crypto.BLSSignature{}, bad("bad signature", err)
	}
	if other {
		return nil, crypto.BLSSignature{}, &Error{Node: c.name, Op: "GET " + path, Status: http.StatusOK,
			Msg: fmt.Sprintf("confirmation for epoch %d, asked for epoch %d", sc.Epoch, epoch), Err: ErrOtherEpoch}
	}
	return conf.Signed.SerializedMessage, sig, nil
}

// verifySignature checks a signed message against the node's BLS key.
func (c *Client) verifySignature(sm *api.SignedMessage) (crypto.BLSSignature, error) {
	var sig crypto.BLSSignature
	if len(sm.Signature) != len(sig) {
		return sig, fmt.Errorf("signature of %d bytes", len(sm.Signature))
	}
	copy(sig[:], sm.Signature)
	return sig, crypto.VerifyBLS(c.bls, sm.SerializedMessage, sig)
}

// RecoverySymbols asks for the recovery symbols ids, with proofs against the node's slivers
// of proofAxis, and returns them verified against md: every symbol is one asked for and its
// proof leads to its sliver's hash. One request carries at most 2n IDs (what a node serves at
// once); more take more requests. A symbol that does not verify fails the whole answer.
func (c *Client) RecoverySymbols(ctx context.Context, enc *redstuff.Encoder, md *blob.MetadataWithID, ids []blob.SymbolID, proofAxis redstuff.Axis) ([]redstuff.RecoverySymbol, error) {
	p := enc.Params()
	s, err := md.Metadata.SymbolSize(p)
	if err != nil {
		return nil, fmt.Errorf("nodeclient: %w", err)
	}
	target := proofAxis.Other()
	// symbolID names a symbol by its source and target indices.
	symbolID := func(sym redstuff.RecoverySymbol) blob.SymbolID {
		if sym.Target == redstuff.Secondary { // source primary
			return blob.SymbolID{Primary: uint16(sym.SourceIndex), Secondary: uint16(sym.TargetIndex)}
		}
		return blob.SymbolID{Primary: uint16(sym.TargetIndex), Secondary: uint16(sym.SourceIndex)}
	}
	var out []redstuff.RecoverySymbol
	for chunk := range slices.Chunk(ids, 2*p.NShards) {
		strs := make([]string, len(chunk))
		asked := make(map[blob.SymbolID]bool, len(chunk))
		for i, id := range chunk {
			strs[i] = id.String()
			asked[id] = true
		}
		req := c.request(http.MethodGet, api.RecoverySymbolsPath(md.ID.String(), strs)+"&"+api.QueryProofAxis+"="+proofAxis.String())
		req.Limit = int64(len(chunk))*int64(s+api.SymbolOverhead) + 16
		req.Into = new([]byte) // the symbols alias the body
		resp, err := c.Do(ctx, req)
		if err != nil {
			return nil, err
		}
		op := "GET " + req.Path
		syms, err := blob.UnmarshalGeneralRecoverySymbols(resp.Body)
		if err != nil {
			return nil, invalid(c.name, op, resp.Status, "malformed recovery symbols", err)
		}
		for _, sym := range syms {
			sid := symbolID(sym)
			if sym.Target != target || !asked[sid] {
				return nil, invalid(c.name, op, resp.Status, "a recovery symbol not asked for", fmt.Errorf("%s (%s target)", sid, sym.Target))
			}
			if err := blob.VerifyRecoverySymbol(enc, md, sym); err != nil {
				return nil, invalid(c.name, op, resp.Status, "invalid recovery symbol", fmt.Errorf("%s: %w", sid, err))
			}
			delete(asked, sid) // a duplicate counts once
			out = append(out, sym)
		}
	}
	return out, nil
}

// InconsistencyProof sends an inconsistency proof (BCS, its target sliver of axis a) and
// returns the node's attestation: its signature of msg (the invalid-blob message the caller
// expects), verified under the node's key.
func (c *Client) InconsistencyProof(ctx context.Context, id blob.ID, a redstuff.Axis, proof, msg []byte) (crypto.BLSSignature, error) {
	req := c.request(http.MethodPost, api.InconsistencyProofPath(id.String(), a.String()))
	req.Body, req.ContentType, req.Limit = Bytes(proof), api.ContentTypeOctetStream, 64<<10
	sm, err := getJSON[api.SignedMessage](ctx, c, req)
	if err != nil {
		return crypto.BLSSignature{}, err
	}
	op := "POST " + req.Path
	if !bytes.Equal(sm.SerializedMessage, msg) {
		return crypto.BLSSignature{}, invalid(c.name, op, http.StatusOK, "attestation of another message (epoch or blob differ)", nil)
	}
	sig, err := c.verifySignature(&sm)
	if err != nil {
		return crypto.BLSSignature{}, invalid(c.name, op, http.StatusOK, "bad attestation signature", err)
	}
	return sig, nil
}
