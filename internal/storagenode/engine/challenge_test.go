package engine

import (
	"context"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
)

// The idle control plane has no challenges either.

func (idleControlPlane) ChallengeEpoch(context.Context, uint32) (*cpapi.ChallengeEpoch, error) {
	return nil, errIdle
}

func (idleControlPlane) NodeChallenge(context.Context, uint32, uint32, cpapi.ObjectID) (*cpapi.NodeChallenge, error) {
	return nil, errIdle
}

func (idleControlPlane) BlobStatus(context.Context, blob.ID) (cpapi.BlobStatus, error) {
	return cpapi.BlobStatus{}, errIdle
}

func (idleControlPlane) NodeAccountability(context.Context, cpapi.ObjectID) (*cpapi.Accountability, error) {
	return nil, errIdle
}
