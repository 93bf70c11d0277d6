package storagenode

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
)

// ByzantineMode makes a node lie, FOR TESTS ONLY: the fault-injection suite runs nodes that
// misbehave in one way each, to show that clients and peers detect them and work around them.
// A production node never sets it.
type ByzantineMode string

// Byzantine modes.
const (
	// ByzantineNone is an honest node.
	ByzantineNone ByzantineMode = ""
	// ByzantineCorruptSlivers serves slivers and recovery symbols with a flipped byte.
	ByzantineCorruptSlivers ByzantineMode = "corrupt-slivers"
	// ByzantineWrongMetadata serves the metadata of another blob, or with a wrong hash
	// (alternately).
	ByzantineWrongMetadata ByzantineMode = "wrong-metadata"
	// ByzantineBadConfirmations signs storage confirmations with a key that is not its
	// registered one, or over another message than the one it sends (alternately).
	ByzantineBadConfirmations ByzantineMode = "bad-confirmations"
	// ByzantineDropUploads acknowledges metadata and sliver uploads without storing them,
	// signs confirmations as if it held them, and recovers nothing.
	ByzantineDropUploads ByzantineMode = "drop-uploads"
	// ByzantineStallSlivers answers sliver and recovery-symbol reads only when the client
	// gives up (a node that accepts connections but hangs).
	ByzantineStallSlivers ByzantineMode = "stall-slivers"
)

// ByzantineModes lists the modes other than ByzantineNone.
var ByzantineModes = []ByzantineMode{ByzantineCorruptSlivers, ByzantineWrongMetadata, ByzantineBadConfirmations, ByzantineDropUploads, ByzantineStallSlivers}

// ParseByzantineMode parses a mode name ("" is ByzantineNone).
func ParseByzantineMode(s string) (ByzantineMode, error) {
	if s == "" {
		return ByzantineNone, nil
	}
	for _, m := range ByzantineModes {
		if string(m) == s {
			return m, nil
		}
	}
	return ByzantineNone, fmt.Errorf("storagenode: unknown Byzantine mode %q (corrupt-slivers, wrong-metadata, bad-confirmations, drop-uploads, stall-slivers)", s)
}

// SetByzantine makes the node misbehave in mode (TESTS ONLY). Call it after New and before
// Run.
func (n *Node) SetByzantine(mode ByzantineMode) error {
	if mode == ByzantineNone {
		return nil
	}
	if _, err := ParseByzantineMode(string(mode)); err != nil {
		return err
	}
	b := &byzantine{n: n, mode: mode, honest: n.Handler()}
	if mode == ByzantineBadConfirmations {
		k, err := crypto.GenerateBLSKey(rand.Reader)
		if err != nil {
			return fmt.Errorf("storagenode: byzantine key: %w", err)
		}
		b.wrongKey = k
	}
	if mode == ByzantineDropUploads {
		n.cfg.DisableRecovery = true
	}
	n.srv.Handler = b.handler()
	n.log.Warn("BYZANTINE MODE: this node lies on purpose (test only)", "mode", string(mode))
	return nil
}

// byzantine wraps the honest handler of a node.
type byzantine struct {
	n        *Node
	mode     ByzantineMode
	honest   http.Handler
	wrongKey *crypto.BLSSecretKey
	count    atomic.Uint64 // alternates between the two lies of a mode
}

func (b *byzantine) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", b.honest)
	lie := func(method, route string, h func(http.ResponseWriter, *http.Request) error) {
		mux.Handle(method+" "+route, b.n.instrument(method, route, h))
	}
	switch b.mode {
	case ByzantineCorruptSlivers:
		lie("GET", api.RouteSliver, b.flipBody)
		lie("GET", api.RouteRecoverySymbols, b.flipBody)
	case ByzantineWrongMetadata:
		lie("GET", api.RouteMetadata, b.wrongMetadata)
	case ByzantineBadConfirmations:
		lie("GET", api.RoutePermanentConfirm, b.badConfirmation)
		lie("GET", api.RouteDeletableConfirm, b.badConfirmation)
	case ByzantineStallSlivers:
		lie("GET", api.RouteSliver, b.stall)
		lie("GET", api.RouteRecoverySymbols, b.stall)
	case ByzantineDropUploads:
		lie("PUT", api.RouteMetadata, b.dropUpload)
		lie("PUT", api.RouteSliver, b.dropUpload)
		lie("PUT", api.RouteSliverBatch, b.dropBatch)
		lie("GET", api.RoutePermanentConfirm, b.confirmAnyway)
		lie("GET", api.RouteDeletableConfirm, b.confirmAnyway)
	}
	return mux
}

// recorder buffers a response of the honest handler.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.body.Write(p)
}

// serveHonest runs the honest handler into a recorder.
func (b *byzantine) serveHonest(r *http.Request) *recorder {
	rec := &recorder{header: http.Header{}}
	b.honest.ServeHTTP(rec, r)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	return rec
}

// forward writes rec to w with body instead of the recorded one.
func forward(w http.ResponseWriter, rec *recorder, body []byte) {
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(rec.code)
	_, _ = w.Write(body)
}

// flipBody serves the honest answer with one byte in its middle flipped.
func (b *byzantine) flipBody(w http.ResponseWriter, r *http.Request) error {
	rec := b.serveHonest(r)
	body := rec.body.Bytes()
	if rec.code == http.StatusOK && len(body) > 0 {
		body[len(body)/2] ^= 0xa5
	}
	forward(w, rec, body)
	return nil
}

// wrongMetadata serves another blob's metadata, or the blob's own with its last hash byte
// flipped.
func (b *byzantine) wrongMetadata(w http.ResponseWriter, r *http.Request) error {
	rec := b.serveHonest(r)
	body := rec.body.Bytes()
	if rec.code != http.StatusOK || len(body) == 0 {
		forward(w, rec, body)
		return nil
	}
	if b.count.Add(1)%2 == 0 {
		if other := b.otherMetadata(r.Context(), r.PathValue("blob_id")); other != nil {
			forward(w, rec, other)
			return nil
		}
	}
	body[len(body)-1] ^= 0x01
	forward(w, rec, body)
	return nil
}

// otherMetadata returns the encoded metadata of a stored blob other than the one named, or nil.
func (b *byzantine) otherMetadata(ctx context.Context, not string) []byte {
	page, err := b.n.store.BlobInfos(ctx, blob.ID{}, 64)
	if err != nil {
		return nil
	}
	for _, e := range page {
		if e.ID.String() == not {
			continue
		}
		md, err := b.n.store.Metadata(ctx, e.ID)
		if err != nil {
			continue
		}
		if out, err := md.MarshalBCS(); err == nil {
			return out
		}
	}
	return nil
}

// badConfirmation serves the honest confirmation message with a signature by a wrong key,
// or by its own key over another message.
func (b *byzantine) badConfirmation(w http.ResponseWriter, r *http.Request) error {
	rec := b.serveHonest(r)
	var s api.Success[api.Confirmation]
	if rec.code != http.StatusOK || json.Unmarshal(rec.body.Bytes(), &s) != nil || s.Success.Data.Signed == nil {
		forward(w, rec, rec.body.Bytes())
		return nil
	}
	signed := s.Success.Data.Signed
	var sig crypto.BLSSignature
	if b.count.Add(1)%2 == 0 {
		sig = b.wrongKey.Sign(signed.SerializedMessage)
	} else {
		sc, err := protocol.DecodeStorageConfirmation(signed.SerializedMessage)
		if err != nil {
			return err
		}
		sc.Epoch++
		sig = b.n.key.Sign(sc.Encode())
	}
	signed.Signature = sig[:]
	writeSuccess(w, http.StatusOK, api.Confirmation{Signed: signed})
	return nil
}

// dropUpload reads an upload, stores nothing and answers as if it had stored it.
func (b *byzantine) dropUpload(w http.ResponseWriter, r *http.Request) error {
	if _, err := io.Copy(io.Discard, io.LimitReader(r.Body, 1<<30)); err != nil {
		return fmt.Errorf("%w: %w", ErrTruncatedBody, err)
	}
	writeSuccess(w, http.StatusCreated, "stored")
	return nil
}

// dropBatch reads a batched upload, stores nothing and answers as if it had stored it.
func (b *byzantine) dropBatch(w http.ResponseWriter, r *http.Request) error {
	if _, err := io.Copy(io.Discard, io.LimitReader(r.Body, 1<<30)); err != nil {
		return fmt.Errorf("%w: %w", ErrTruncatedBody, err)
	}
	writeSuccess(w, http.StatusOK, api.BatchResult{Metadata: api.Stored, Stored: 1})
	return nil
}

// confirmAnyway signs a storage confirmation for a registered blob without holding its slivers.
func (b *byzantine) confirmAnyway(w http.ResponseWriter, r *http.Request) error {
	id, err := pathBlobID(r)
	if err != nil {
		return err
	}
	pt := protocol.Permanent
	if s := r.PathValue("object_id"); s != "" {
		obj, err := protocol.ParseObjectID(s)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadObjectID, err)
		}
		pt = protocol.Deletable(obj)
	}
	deadline := time.Now().Add(b.n.cfg.MaxWaitForRegistration)
	for {
		changed := b.n.waitChange()
		v, err := b.n.currentView()
		if err != nil {
			return err
		}
		err = b.n.checkRegistered(r.Context(), id, v, pt)
		if err == nil {
			msg := protocol.StorageConfirmation{Epoch: v.epoch, BlobID: id, Persistence: pt}.Encode()
			sig := b.n.key.Sign(msg)
			writeSuccess(w, http.StatusOK, api.Confirmation{Signed: &api.SignedMessage{SerializedMessage: msg, Signature: sig[:]}})
			return nil
		}
		if !time.Now().Before(deadline) {
			return err
		}
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-changed:
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return r.Context().Err()
		}
		t.Stop()
	}
}

// stall holds the request until the client or the server gives up.
func (b *byzantine) stall(w http.ResponseWriter, r *http.Request) error {
	<-r.Context().Done()
	return r.Context().Err()
}
