// Package cpserver serves the control-plane HTTP API (routes and types in
// github.com/floelabs/floe/api/controlplane) over any driver that implements Backend: the
// embedded driver today, the CometBFT driver later.
package cpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	api "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/eventlog"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
)

// Backend is what a driver provides.
type Backend interface {
	// Submit admits a signed transaction and waits for the block that includes it.
	Submit(ctx context.Context, raw []byte) (*api.Included, error)
	// View runs f on the latest committed state with its app hash.
	View(f func(s *controlplane.State, appHash controlplane.Hash))
	// Events returns events from sequence number from on, waiting until ctx ends if there are
	// none yet.
	Events(ctx context.Context, from uint64, max int) ([]api.Event, error)
}

// ErrNotFound is returned (as 404) for unknown objects and epochs.
var ErrNotFound = errors.New("not found")

// errBadRequest marks malformed requests (400).
var errBadRequest = errors.New("bad request")

// Handler serves the API.
type Handler struct {
	b   Backend
	log *slog.Logger
	mux *http.ServeMux
}

// New returns the API handler over b.
func New(b Backend, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	h := &Handler{b: b, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST "+api.PathTransactions, h.submit)
	h.mux.HandleFunc("GET "+api.PathInfo, h.info)
	h.mux.HandleFunc("GET "+api.PathParams, h.params)
	h.mux.HandleFunc("GET "+api.PathPrices, h.prices)
	h.mux.HandleFunc("GET "+api.PathCost, h.cost)
	h.mux.HandleFunc("GET "+api.PathAccounts+"{address}", h.account)
	h.mux.HandleFunc("GET "+api.PathAccounts+"{address}/objects", h.owned)
	h.mux.HandleFunc("GET "+api.PathAccounts+"{address}/stakes", h.stakes)
	h.mux.HandleFunc("GET "+api.PathBlobs+"{blob_id}/status", h.blobStatus)
	h.mux.HandleFunc("GET "+api.PathBlobs+"{blob_id}/objects", h.blobObjects)
	h.mux.HandleFunc("GET "+api.PathObjects+"{object_id}", h.object)
	h.mux.HandleFunc("GET "+api.PathCommittees+"{epoch}", h.committee)
	h.mux.HandleFunc("GET "+api.PathCommittees+"read", h.readCommittees)
	h.mux.HandleFunc("GET "+api.PathNodes, h.nodes)
	h.mux.HandleFunc("GET "+api.PathNodes+"/{node_id}", h.nodeInfo)
	h.mux.HandleFunc("GET "+api.PathValidators, h.validators)
	h.mux.HandleFunc("GET "+api.PathEvents, h.events)
	h.mux.HandleFunc("GET "+api.PathState, h.state)
	h.challengeRoutes()
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		h.log.Debug("writing response", "err", err)
	}
}

// writeError is the one place errors become statuses.
func (h *Handler) writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	code := controlplane.ErrorCode(err)
	var pruned *eventlog.PrunedError
	switch {
	case errors.As(err, &pruned):
		oldest := pruned.Oldest
		h.writeJSON(w, http.StatusGone, api.ErrorResponse{Code: api.CodeEventsPruned, Error: err.Error(), OldestSeq: &oldest})
		return
	case errors.Is(err, ErrNotFound):
		status, code = http.StatusNotFound, "not_found"
	case errors.Is(err, errBadRequest):
		status, code = http.StatusBadRequest, "bad_request"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		status, code = http.StatusServiceUnavailable, "timeout"
	case code != "internal":
		status = http.StatusBadRequest
	default:
		status, code = http.StatusServiceUnavailable, "unavailable"
		h.log.Warn("control plane request failed", "err", err)
	}
	h.writeJSON(w, status, api.ErrorResponse{Code: code, Error: err.Error()})
}

func (h *Handler) submit(w http.ResponseWriter, r *http.Request) {
	var req api.SubmitRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 2*controlplane.MaxTxSize)).Decode(&req); err != nil {
		h.writeError(w, fmt.Errorf("%w: %w", errBadRequest, err))
		return
	}
	inc, err := h.b.Submit(r.Context(), req.Tx)
	if err != nil {
		h.writeError(w, err)
		return
	}
	h.writeJSON(w, http.StatusOK, inc)
}

func (h *Handler) info(w http.ResponseWriter, _ *http.Request) {
	var info api.Info
	h.b.View(func(s *controlplane.State, hash controlplane.Hash) {
		info = s.Info()
		info.AppHash = api.Hash(hash)
	})
	h.writeJSON(w, http.StatusOK, info)
}

func (h *Handler) params(w http.ResponseWriter, _ *http.Request) {
	var p api.Params
	h.b.View(func(s *controlplane.State, _ controlplane.Hash) { p = s.Params().API() })
	h.writeJSON(w, http.StatusOK, p)
}

func (h *Handler) prices(w http.ResponseWriter, _ *http.Request) {
	var p api.Prices
	h.b.View(func(s *controlplane.State, _ controlplane.Hash) { p = s.Prices() })
	h.writeJSON(w, http.StatusOK, p)
}

func (h *Handler) cost(w http.ResponseWriter, r *http.Request) {
	size, err := strconv.ParseUint(r.URL.Query().Get("size"), 10, 64)
	if err != nil {
		h.writeError(w, fmt.Errorf("%w: size: %w", errBadRequest, err))
		return
	}
	epochs, err := strconv.ParseUint(r.URL.Query().Get("epochs"), 10, 32)
	if err != nil {
		h.writeError(w, fmt.Errorf("%w: epochs: %w", errBadRequest, err))
		return
	}
	c := api.Cost{Size: size, Epochs: uint32(epochs)}
	h.b.View(func(s *controlplane.State, _ controlplane.Hash) {
		c.EncodedLength, c.StorageCost, c.WriteFee, err = s.Cost(size, uint32(epochs))
	})
	if err != nil {
		h.writeError(w, err)
		return
	}
	c.Total = c.StorageCost + c.WriteFee
	h.writeJSON(w, http.StatusOK, c)
}

func parseAddress(r *http.Request) (crypto.Address, error) {
	a, err := crypto.ParseAddress(r.PathValue("address"))
	if err != nil {
		return a, fmt.Errorf("%w: %w", errBadRequest, err)
	}
	return a, nil
}

func (h *Handler) account(w http.ResponseWriter, r *http.Request) {
	a, err := parseAddress(r)
	if err != nil {
		h.writeError(w, err)
		return
	}
	var acc api.Account
	h.b.View(func(s *controlplane.State, _ controlplane.Hash) { acc = s.Account(a) })
	h.writeJSON(w, http.StatusOK, acc)
}

func (h *Handler) owned(w http.ResponseWriter, r *http.Request) {
	a, err := parseAddress(r)
	if err != nil {
		h.writeError(w, err)
		return
	}
	var o api.Owned
	h.b.View(func(s *controlplane.State, _ controlplane.Hash) { o = s.OwnedBy(a) })
	h.writeJSON(w, http.StatusOK, o)
}

func (h *Handler) stakes(w http.ResponseWriter, r *http.Request) {
	a, err := parseAddress(r)
	if err != nil {
		h.writeError(w, err)
		return
	}
	var st []api.Stake
	h.b.View(func(s *controlplane.State, _ controlplane.Hash) { st = s.StakesOf(a) })
	h.writeJSON(w, http.StatusOK, st)
}

func parseBlobID(r *http.Request) (blob.ID, error) {
	id, err := blob.ParseID(r.PathValue("blob_id"))
	if err != nil {
		return id, fmt.Errorf("%w: %w", errBadRequest, err)
	}
	return id, nil
}

func (h *Handler) blobStatus(w http.ResponseWriter, r *http.Request) {
	id, err := parseBlobID(r)
	if err != nil {
		h.writeError(w, err)
		return
	}
	var st api.BlobStatus
	h.b.View(func(s *controlplane.State, _ controlplane.Hash) { st = s.BlobStatus(id) })
	h.writeJSON(w, http.StatusOK, st)
}

func (h *Handler) blobObjects(w http.ResponseWriter, r *http.Request) {
	id, err := parseBlobID(r)
	if err != nil {
		h.writeError(w, err)
		return
	}
	var bs []api.Blob
	h.b.View(func(s *controlplane.State, _ controlplane.Hash) { bs = s.BlobsByID(id) })
	h.writeJSON(w, http.StatusOK, bs)
}

func (h *Handler) object(w http.ResponseWriter, r *http.Request) {
	id, err := protocol.ParseObjectID(r.PathValue("object_id"))
	if err != nil {
		h.writeError(w, fmt.Errorf("%w: %w", errBadRequest, err))
		return
	}
	var o api.ObjectResponse
	h.b.View(func(s *controlplane.State, _ controlplane.Hash) {
		if b, ok := s.Blob(id); ok {
			o.Blob = &b
		} else if st, ok := s.Storage(id); ok {
			o.Storage = &st
		} else if n, ok := s.Node(id); ok {
			o.Node = &n
		} else if k, ok := s.Stake(id); ok {
			o.Stake = &k
		}
	})
	if o == (api.ObjectResponse{}) {
		h.writeError(w, fmt.Errorf("%w: object %s", ErrNotFound, id))
		return
	}
	h.writeJSON(w, http.StatusOK, o)
}

func (h *Handler) committee(w http.ResponseWriter, r *http.Request) {
	arg := r.PathValue("epoch")
	var c *api.Committee
	var ok bool
	h.b.View(func(s *controlplane.State, _ controlplane.Hash) {
		e := s.Epoch()
		switch arg {
		case "current":
		case "next":
			e++
		case "previous":
			if e == 0 {
				return
			}
			e--
		default:
			v, err := strconv.ParseUint(arg, 10, 32)
			if err != nil {
				return
			}
			e = uint32(v)
		}
		c, ok = s.Committee(e)
	})
	if !ok {
		h.writeError(w, fmt.Errorf("%w: committee of epoch %q", ErrNotFound, arg))
		return
	}
	h.writeJSON(w, http.StatusOK, c)
}

func (h *Handler) readCommittees(w http.ResponseWriter, _ *http.Request) {
	var rc *api.ReadCommittees
	var ok bool
	h.b.View(func(s *controlplane.State, _ controlplane.Hash) { rc, ok = s.ReadCommittees() })
	if !ok {
		h.writeError(w, fmt.Errorf("%w: no committee", ErrNotFound))
		return
	}
	h.writeJSON(w, http.StatusOK, rc)
}

func (h *Handler) nodes(w http.ResponseWriter, _ *http.Request) {
	var ns []api.Node
	h.b.View(func(s *controlplane.State, _ controlplane.Hash) { ns = s.Nodes() })
	h.writeJSON(w, http.StatusOK, ns)
}

func (h *Handler) nodeInfo(w http.ResponseWriter, r *http.Request) {
	id, err := protocol.ParseObjectID(r.PathValue("node_id"))
	if err != nil {
		h.writeError(w, fmt.Errorf("%w: %w", errBadRequest, err))
		return
	}
	var ni api.NodeInfo
	var ok bool
	h.b.View(func(s *controlplane.State, _ controlplane.Hash) { ni, ok = s.NodeInfo(id) })
	if !ok {
		h.writeError(w, fmt.Errorf("%w: node %s", ErrNotFound, id))
		return
	}
	h.writeJSON(w, http.StatusOK, ni)
}

func (h *Handler) validators(w http.ResponseWriter, _ *http.Request) {
	var vs []api.Validator
	h.b.View(func(s *controlplane.State, _ controlplane.Hash) { vs = s.Validators() })
	h.writeJSON(w, http.StatusOK, vs)
}

func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var from uint64
	var err error
	if v := q.Get("from"); v != "" {
		if from, err = strconv.ParseUint(v, 10, 64); err != nil {
			h.writeError(w, fmt.Errorf("%w: from: %w", errBadRequest, err))
			return
		}
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit <= 0 || limit > 1000 {
			h.writeError(w, fmt.Errorf("%w: limit must be 1..1000", errBadRequest))
			return
		}
	}
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil || wait < 0 {
			h.writeError(w, fmt.Errorf("%w: wait: %q", errBadRequest, v))
			return
		}
		wait = min(wait, api.MaxEventsWait*time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	evs, err := h.b.Events(ctx, from, limit)
	if err != nil {
		h.writeError(w, err)
		return
	}
	next := from
	if len(evs) > 0 {
		next = evs[len(evs)-1].Seq + 1
	}
	h.writeJSON(w, http.StatusOK, api.EventsResponse{Events: evs, Next: next})
}

func (h *Handler) state(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cursor := 0
	if v := q.Get("cursor"); v != "" {
		c, err := strconv.Atoi(v)
		if err != nil || c < 0 {
			h.writeError(w, fmt.Errorf("%w: cursor %q", errBadRequest, v))
			return
		}
		cursor = c
	}
	limit := 1000
	if v := q.Get("limit"); v != "" {
		l, err := strconv.Atoi(v)
		if err != nil || l <= 0 || l > api.MaxStatePageLimit {
			h.writeError(w, fmt.Errorf("%w: limit must be 1..%d", errBadRequest, api.MaxStatePageLimit))
			return
		}
		limit = l
	}
	var p api.StatePage
	h.b.View(func(s *controlplane.State, _ controlplane.Hash) {
		var next int
		p.Blobs, p.Invalid, next = s.ListBlobs(cursor, limit)
		p.EventSeq, p.Height, p.Epoch = s.EventSeq(), s.Height(), s.Epoch()
		if next >= 0 {
			p.Next = strconv.Itoa(next)
		}
	})
	h.writeJSON(w, http.StatusOK, p)
}
