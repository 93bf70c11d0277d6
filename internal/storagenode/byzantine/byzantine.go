// Package byzantine makes a storage node lie, FOR TESTS ONLY: the fault-injection suites run
// nodes that misbehave in one way each, to show that clients and peers detect them and work
// around them. It wraps the honest node's HTTP handler from the outside (Node.WrapHandler);
// the storage node itself holds no lying code.
//
// The release binary does not link this package: `floe node run --byzantine` exists only in
// binaries built with the build tag floetest (internal/cli/node_floetest.go), which the chaos
// tests build for their child processes. In-process tests import the package directly.
package byzantine

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/nodestore"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/internal/storagenode"
)

// Mode is a way of lying.
type Mode string

// Modes of lying.
const (
	// None is an honest node.
	None Mode = ""
	// CorruptSlivers serves slivers and recovery symbols with a flipped byte.
	CorruptSlivers Mode = "corrupt-slivers"
	// WrongMetadata serves the metadata of another blob, or with a wrong hash (alternately).
	WrongMetadata Mode = "wrong-metadata"
	// BadConfirmations signs storage confirmations with a key that is not its registered one,
	// or over another message than the one it sends (alternately).
	BadConfirmations Mode = "bad-confirmations"
	// DropUploads acknowledges metadata and sliver uploads without storing them, signs
	// confirmations as if it held them, and recovers nothing.
	DropUploads Mode = "drop-uploads"
	// StallSlivers answers sliver and recovery-symbol reads only when the client gives up (a
	// node that accepts connections but hangs).
	StallSlivers Mode = "stall-slivers"
)

// Modes lists the modes other than None that the fault-injection suites try, each in turn;
// DiscardSlivers, a benchmark mode, is not among them.
var Modes = []Mode{CorruptSlivers, WrongMetadata, BadConfirmations, DropUploads, StallSlivers}

// Parse parses a mode name ("" is None).
func Parse(s string) (Mode, error) {
	if s == "" {
		return None, nil
	}
	if m, ok, err := parseDropStored(s); ok {
		return m, err
	}
	if s == string(DiscardSlivers) {
		return DiscardSlivers, nil
	}
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	return None, fmt.Errorf("byzantine: unknown mode %q (corrupt-slivers, wrong-metadata, bad-confirmations, drop-uploads, stall-slivers, discard-slivers, drop-stored[=P])", s)
}

// Configure adjusts the configuration of a node that will lie in mode; call it before
// storagenode.New.
func Configure(mode Mode, cfg *storagenode.Config) {
	if mode == DropUploads || mode == DiscardSlivers || mode.DropPercent() > 0 {
		cfg.DisableRecovery = true
	}
}

// Apply makes node, built from cfg (see Configure), lie in mode; call it before Run.
func Apply(node *storagenode.Node, mode Mode, cfg *storagenode.Config) error {
	if mode == None {
		return nil
	}
	if _, err := Parse(string(mode)); err != nil {
		return err
	}
	if p := mode.DropPercent(); p > 0 {
		log := cfg.Logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		log.Warn("BYZANTINE MODE: this node deletes slivers on purpose (test only)", "mode", string(mode), "percent", p)
		d := &dropper{store: cfg.Store, log: log, seed: cfg.ProtocolKey.PublicKey(), per10k: uint64(p * 100)}
		node.AddTask(d.run)
		return nil
	}
	b := &liar{mode: mode, store: cfg.Store, key: cfg.ProtocolKey, discard: newDiscarder()}
	if mode == BadConfirmations {
		k, err := crypto.GenerateBLSKey(rand.Reader)
		if err != nil {
			return fmt.Errorf("byzantine: key: %w", err)
		}
		b.wrongKey = k
	}
	node.WrapHandler(func(honest http.Handler) http.Handler {
		b.honest = honest
		return b.handler()
	})
	if cfg.Logger != nil {
		cfg.Logger.Warn("BYZANTINE MODE: this node lies on purpose (test only)", "mode", string(mode))
	}
	return nil
}

// liar wraps the honest handler of a node.
type liar struct {
	mode     Mode
	honest   http.Handler
	store    *nodestore.Store
	key      *crypto.BLSSecretKey
	wrongKey *crypto.BLSSecretKey
	count    atomic.Uint64 // alternates between the two lies of a mode
	discard  *discarder    // DiscardSlivers
}

func (b *liar) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", b.honest)
	lie := func(method, route string, h http.HandlerFunc) { mux.Handle(method+" "+route, h) }
	switch b.mode {
	case CorruptSlivers:
		lie("GET", api.RouteSliver, b.flipBody)
		lie("GET", api.RouteRecoverySymbols, b.flipBody)
	case WrongMetadata:
		lie("GET", api.RouteMetadata, b.wrongMetadata)
	case BadConfirmations:
		lie("GET", api.RoutePermanentConfirm, b.badConfirmation)
		lie("GET", api.RouteDeletableConfirm, b.badConfirmation)
	case StallSlivers:
		lie("GET", api.RouteSliver, stall)
		lie("GET", api.RouteRecoverySymbols, stall)
	case DropUploads:
		lie("PUT", api.RouteMetadata, dropUpload(http.StatusCreated, "stored"))
		lie("PUT", api.RouteSliver, dropUpload(http.StatusCreated, "stored"))
		lie("PUT", api.RouteSliverBatch, dropUpload(http.StatusOK, api.BatchResult{Metadata: api.Stored, Stored: 1}))
		lie("GET", api.RoutePermanentConfirm, b.confirmAnyway)
		lie("GET", api.RouteDeletableConfirm, b.confirmAnyway)
	case DiscardSlivers:
		lie("PUT", api.RouteMetadata, b.putMetadata)
		lie("PUT", api.RouteSliver, b.putSliver)
		lie("PUT", api.RouteSliverBatch, b.putSliverBatch)
		lie("GET", api.RoutePermanentConfirm, b.confirmAnyway)
		lie("GET", api.RouteDeletableConfirm, b.confirmAnyway)
	}
	return mux
}

// serveHonest runs the honest handler into a recorder.
func (b *liar) serveHonest(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	b.honest.ServeHTTP(rec, r)
	return rec
}

// forward writes rec to w with body instead of the recorded one.
func forward(w http.ResponseWriter, rec *httptest.ResponseRecorder, body []byte) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

func writeSuccess[T any](w http.ResponseWriter, code int, data T) {
	b, _ := json.Marshal(api.Success[T]{Success: api.SuccessBody[T]{Code: code, Data: data}})
	w.Header().Set("Content-Type", api.ContentTypeJSON)
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// flipBody serves the honest answer with one byte in its middle flipped.
func (b *liar) flipBody(w http.ResponseWriter, r *http.Request) {
	rec := b.serveHonest(r)
	body := rec.Body.Bytes()
	if rec.Code == http.StatusOK && len(body) > 0 {
		body[len(body)/2] ^= 0xa5
	}
	forward(w, rec, body)
}

// wrongMetadata serves another blob's metadata, or the blob's own with its last hash byte
// flipped.
func (b *liar) wrongMetadata(w http.ResponseWriter, r *http.Request) {
	rec := b.serveHonest(r)
	body := rec.Body.Bytes()
	if rec.Code != http.StatusOK || len(body) == 0 {
		forward(w, rec, body)
		return
	}
	if b.count.Add(1)%2 == 0 {
		if other := b.otherMetadata(r.Context(), r.PathValue("blob_id")); other != nil {
			forward(w, rec, other)
			return
		}
	}
	body[len(body)-1] ^= 0x01
	forward(w, rec, body)
}

// otherMetadata returns the encoded metadata of a stored blob other than the one named, or nil.
func (b *liar) otherMetadata(ctx context.Context, not string) []byte {
	page, err := b.store.BlobInfos(ctx, blob.ID{}, 64)
	if err != nil {
		return nil
	}
	for _, e := range page {
		if e.ID.String() == not {
			continue
		}
		md, err := b.store.Metadata(ctx, e.ID)
		if err != nil {
			continue
		}
		if out, err := md.MarshalBCS(); err == nil {
			return out
		}
	}
	return nil
}

// badConfirmation serves the honest confirmation message with a signature by a wrong key, or
// by its own key over another message.
func (b *liar) badConfirmation(w http.ResponseWriter, r *http.Request) {
	rec := b.serveHonest(r)
	var s api.Success[api.Confirmation]
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &s) != nil || s.Success.Data.Signed == nil {
		forward(w, rec, rec.Body.Bytes())
		return
	}
	signed := s.Success.Data.Signed
	var sig crypto.BLSSignature
	if b.count.Add(1)%2 == 0 {
		sig = b.wrongKey.Sign(signed.SerializedMessage)
	} else {
		sc, err := protocol.DecodeStorageConfirmation(signed.SerializedMessage)
		if err != nil {
			forward(w, rec, rec.Body.Bytes())
			return
		}
		sc.Epoch++
		sig = b.key.Sign(sc.Encode())
	}
	signed.Signature = sig[:]
	writeSuccess(w, http.StatusOK, api.Confirmation{Signed: signed})
}

// dropUpload reads an upload, stores nothing and answers as if it had stored it.
func dropUpload[T any](code int, data T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, io.LimitReader(r.Body, 1<<30)); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeSuccess(w, code, data)
	}
}

// confirmAnyway signs a storage confirmation for a registered blob without holding its
// slivers: where the honest node refuses because slivers are missing (which it checks only
// once the blob is registered), the liar signs.
func (b *liar) confirmAnyway(w http.ResponseWriter, r *http.Request) {
	rec := b.serveHonest(r)
	var e api.Error
	if rec.Code == http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error.Reason() != api.ReasonMissingSlivers {
		forward(w, rec, rec.Body.Bytes())
		return
	}
	id, err := blob.ParseID(r.PathValue("blob_id"))
	if err != nil {
		forward(w, rec, rec.Body.Bytes())
		return
	}
	pt := protocol.Permanent
	if s := r.PathValue("object_id"); s != "" {
		obj, err := protocol.ParseObjectID(s)
		if err != nil {
			forward(w, rec, rec.Body.Bytes())
			return
		}
		pt = protocol.Deletable(obj)
	}
	epoch, err := b.epoch(r.Context())
	if err != nil {
		forward(w, rec, rec.Body.Bytes())
		return
	}
	msg := protocol.StorageConfirmation{Epoch: epoch, BlobID: id, Persistence: pt}.Encode()
	sig := b.key.Sign(msg)
	writeSuccess(w, http.StatusOK, api.Confirmation{Signed: &api.SignedMessage{SerializedMessage: msg, Signature: sig[:]}})
}

// epoch asks the honest node for its epoch (its health).
func (b *liar) epoch(ctx context.Context) (uint32, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.RouteHealth, nil)
	if err != nil {
		return 0, err
	}
	rec := b.serveHonest(req)
	var h api.Success[api.ServiceHealthInfo]
	if err := json.Unmarshal(rec.Body.Bytes(), &h); err != nil || rec.Code != http.StatusOK {
		return 0, fmt.Errorf("byzantine: health: %d %v", rec.Code, err)
	}
	return h.Success.Data.Epoch, nil
}

// stall holds the request until the client or the server gives up.
func stall(w http.ResponseWriter, r *http.Request) {
	<-r.Context().Done()
	http.Error(w, "stalled", http.StatusServiceUnavailable)
}
