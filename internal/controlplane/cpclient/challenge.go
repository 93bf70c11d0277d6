package cpclient

import (
	"context"
	"net/http"
	"strconv"

	api "github.com/floelabs/floe/api/controlplane"
)

// ChallengeEpoch returns the storage-challenge rounds of an epoch.
func (c *Client) ChallengeEpoch(ctx context.Context, epoch uint32) (*api.ChallengeEpoch, error) {
	var v api.ChallengeEpoch
	return &v, c.do(ctx, http.MethodGet, api.PathChallenges+strconv.FormatUint(uint64(epoch), 10), nil, &v)
}

// CurrentChallenges returns the storage-challenge rounds of the current epoch.
func (c *Client) CurrentChallenges(ctx context.Context) (*api.ChallengeEpoch, error) {
	var v api.ChallengeEpoch
	return &v, c.do(ctx, http.MethodGet, api.PathChallenges+"current", nil, &v)
}

// NodeChallenge returns a node's challenge in a round, with its samples while it is
// challenged.
func (c *Client) NodeChallenge(ctx context.Context, epoch, round uint32, node api.ObjectID) (*api.NodeChallenge, error) {
	var v api.NodeChallenge
	path := api.PathChallenges + strconv.FormatUint(uint64(epoch), 10) + "/" + strconv.FormatUint(uint64(round), 10) + "/" + node.String()
	return &v, c.do(ctx, http.MethodGet, path, nil, &v)
}

// Accountability returns every node's challenge record (rewards, withheld rewards, slashing)
// and the network's totals.
func (c *Client) Accountability(ctx context.Context) (*api.AccountabilityReport, error) {
	var v api.AccountabilityReport
	return &v, c.do(ctx, http.MethodGet, api.PathAccountability, nil, &v)
}

// NodeAccountability returns one node's challenge record.
func (c *Client) NodeAccountability(ctx context.Context, node api.ObjectID) (*api.Accountability, error) {
	var v api.Accountability
	return &v, c.do(ctx, http.MethodGet, api.PathAccountability+"/"+node.String(), nil, &v)
}
