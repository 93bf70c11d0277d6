package storagenode

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/storagenode/engine"
)

// ErrNoChallenge is returned by a ControlPlane for a challenge round or record it does not have.
var ErrNoChallenge = engine.ErrNoChallenge

// postChallengeAnswer verifies another member's answer to its storage challenge and answers
// with the node's signed attestation (engine.Challenges.Verify).
func (n *Node) postChallengeAnswer(w http.ResponseWriter, r *http.Request) error {
	if err := checkOctetStream(r); err != nil {
		return err
	}
	limit, err := n.e.Challenges.AnswerLimit(r.Context())
	if err != nil {
		return err
	}
	body, err := n.readBody(w, r, limit)
	if err != nil {
		return err
	}
	sm, err := n.e.Challenges.Verify(r.Context(), body)
	if err != nil {
		return err
	}
	writeSuccess(w, http.StatusOK, sm)
	return nil
}

// ChallengeEpoch implements ControlPlane.
func (e Embedded) ChallengeEpoch(_ context.Context, epoch uint32) (*cpapi.ChallengeEpoch, error) {
	var out *cpapi.ChallengeEpoch
	var ok bool
	e.Chain.View(func(s *controlplane.State, _ controlplane.Hash) { out, ok = s.ChallengeEpoch(epoch) })
	if !ok {
		return nil, fmt.Errorf("%w: epoch %d", ErrNoChallenge, epoch)
	}
	return out, nil
}

// NodeChallenge implements ControlPlane.
func (e Embedded) NodeChallenge(_ context.Context, epoch, round uint32, node cpapi.ObjectID) (*cpapi.NodeChallenge, error) {
	var out *cpapi.NodeChallenge
	var ok bool
	e.Chain.View(func(s *controlplane.State, _ controlplane.Hash) {
		out, ok = s.NodeChallenge(epoch, round, controlplane.ObjectID(node))
	})
	if !ok {
		return nil, fmt.Errorf("%w: node %s in round %d of epoch %d", ErrNoChallenge, node, round, epoch)
	}
	return out, nil
}

// BlobStatus implements ControlPlane.
func (e Embedded) BlobStatus(_ context.Context, id blob.ID) (cpapi.BlobStatus, error) {
	var out cpapi.BlobStatus
	e.Chain.View(func(s *controlplane.State, _ controlplane.Hash) { out = s.BlobStatus(id) })
	return out, nil
}

// NodeAccountability implements ControlPlane.
func (e Embedded) NodeAccountability(_ context.Context, node cpapi.ObjectID) (*cpapi.Accountability, error) {
	var out cpapi.Accountability
	var ok bool
	e.Chain.View(func(s *controlplane.State, _ controlplane.Hash) {
		out, ok = s.NodeAccountability(controlplane.ObjectID(node))
	})
	if !ok {
		return nil, fmt.Errorf("%w: no record of node %s", ErrNoChallenge, node)
	}
	return &out, nil
}

// noChallenge turns the client's not-found into ErrNoChallenge.
func noChallenge(err error) error {
	if errors.Is(err, cpclient.ErrNotFound) {
		return fmt.Errorf("%w: %w", ErrNoChallenge, err)
	}
	return err
}

// ChallengeEpoch implements ControlPlane.
func (c Remote) ChallengeEpoch(ctx context.Context, epoch uint32) (*cpapi.ChallengeEpoch, error) {
	out, err := c.Client.ChallengeEpoch(ctx, epoch)
	return out, noChallenge(err)
}

// NodeChallenge implements ControlPlane.
func (c Remote) NodeChallenge(ctx context.Context, epoch, round uint32, node cpapi.ObjectID) (*cpapi.NodeChallenge, error) {
	out, err := c.Client.NodeChallenge(ctx, epoch, round, node)
	return out, noChallenge(err)
}

// BlobStatus implements ControlPlane.
func (c Remote) BlobStatus(ctx context.Context, id blob.ID) (cpapi.BlobStatus, error) {
	out, err := c.Client.BlobStatus(ctx, id)
	if err != nil {
		return cpapi.BlobStatus{}, err
	}
	return *out, nil
}

// NodeAccountability implements ControlPlane.
func (c Remote) NodeAccountability(ctx context.Context, node cpapi.ObjectID) (*cpapi.Accountability, error) {
	out, err := c.Client.NodeAccountability(ctx, node)
	return out, noChallenge(err)
}
