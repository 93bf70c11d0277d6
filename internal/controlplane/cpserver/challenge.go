package cpserver

import (
	"fmt"
	"net/http"
	"strconv"

	api "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/protocol"
)

// challengeRoutes registers the storage-challenge queries (api/controlplane's challenge.go).
func (h *Handler) challengeRoutes() {
	h.mux.HandleFunc("GET "+api.PathChallenges+"{epoch}", h.challengeEpoch)
	h.mux.HandleFunc("GET "+api.PathChallenges+"{epoch}/{round}/{node_id}", h.nodeChallenge)
	h.mux.HandleFunc("GET "+api.PathAccountability, h.accountability)
	h.mux.HandleFunc("GET "+api.PathAccountability+"/{node_id}", h.nodeAccountability)
}

// parseEpoch reads an epoch number or "current" (the state's epoch).
func parseEpoch(arg string, current uint32) (uint32, error) {
	if arg == "current" {
		return current, nil
	}
	v, err := strconv.ParseUint(arg, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: epoch %q", errBadRequest, arg)
	}
	return uint32(v), nil
}

func (h *Handler) challengeEpoch(w http.ResponseWriter, r *http.Request) {
	var out *api.ChallengeEpoch
	var ok bool
	var err error
	h.b.View(func(s *controlplane.State, _ controlplane.Hash) {
		var e uint32
		if e, err = parseEpoch(r.PathValue("epoch"), s.Epoch()); err == nil {
			out, ok = s.ChallengeEpoch(e)
		}
	})
	switch {
	case err != nil:
		h.writeError(w, err)
	case !ok:
		h.writeError(w, fmt.Errorf("%w: no challenge rounds in epoch %q", ErrNotFound, r.PathValue("epoch")))
	default:
		h.writeJSON(w, http.StatusOK, out)
	}
}

func (h *Handler) nodeChallenge(w http.ResponseWriter, r *http.Request) {
	round, err := strconv.ParseUint(r.PathValue("round"), 10, 32)
	if err != nil {
		h.writeError(w, fmt.Errorf("%w: round %q", errBadRequest, r.PathValue("round")))
		return
	}
	node, err := protocol.ParseObjectID(r.PathValue("node_id"))
	if err != nil {
		h.writeError(w, fmt.Errorf("%w: %w", errBadRequest, err))
		return
	}
	var out *api.NodeChallenge
	var ok bool
	h.b.View(func(s *controlplane.State, _ controlplane.Hash) {
		var e uint32
		if e, err = parseEpoch(r.PathValue("epoch"), s.Epoch()); err == nil {
			out, ok = s.NodeChallenge(e, uint32(round), node)
		}
	})
	switch {
	case err != nil:
		h.writeError(w, err)
	case !ok:
		h.writeError(w, fmt.Errorf("%w: no challenge of node %s in round %d of epoch %q", ErrNotFound, node, round, r.PathValue("epoch")))
	default:
		h.writeJSON(w, http.StatusOK, out)
	}
}

func (h *Handler) accountability(w http.ResponseWriter, _ *http.Request) {
	var out api.AccountabilityReport
	h.b.View(func(s *controlplane.State, _ controlplane.Hash) { out = s.AccountabilityReport() })
	h.writeJSON(w, http.StatusOK, out)
}

func (h *Handler) nodeAccountability(w http.ResponseWriter, r *http.Request) {
	node, err := protocol.ParseObjectID(r.PathValue("node_id"))
	if err != nil {
		h.writeError(w, fmt.Errorf("%w: %w", errBadRequest, err))
		return
	}
	var out api.Accountability
	var ok bool
	h.b.View(func(s *controlplane.State, _ controlplane.Hash) { out, ok = s.NodeAccountability(node) })
	if !ok {
		h.writeError(w, fmt.Errorf("%w: no challenge record of node %s", ErrNotFound, node))
		return
	}
	h.writeJSON(w, http.StatusOK, out)
}
