package engine

import (
	"context"
	"encoding/base64"
	"time"

	api "github.com/floelabs/floe/api/storagenode"
)

// Health reports the node's state: uptime, epoch, event progress and its shards (each one's
// status if detailed): a shard is ready only once a sweep over the node's blobs has covered
// it and no certified blob is known to miss a sliver in it; until then it is in recovery.
// ReadOnly counts the shards it holds slivers of without owning them.
func (e *Engine) Health(ctx context.Context, detailed bool) (api.ServiceHealthInfo, error) {
	up := time.Since(e.started)
	e.mu.RLock()
	v, applied, latest, height := e.view, e.applied, e.latest, e.height
	e.mu.RUnlock()
	h := api.ServiceHealthInfo{
		Uptime:      api.Duration{Secs: uint64(up / time.Second), Nanos: uint32(up % time.Second)},
		PublicKey:   base64.StdEncoding.EncodeToString(e.pub[:]),
		NodeStatus:  "Standby",
		SliverBatch: true,
		EventProgress: api.EventProgress{Persisted: applied, Pending: latest - min(latest, applied),
			HighestFinishedEventIndex: applied},
	}
	if height > 0 {
		h.LatestCheckpointSequenceNumber = &height
	}
	if applied == 0 {
		h.EventProgress.HighestFinishedEventIndex = 0
	} else {
		h.EventProgress.HighestFinishedEventIndex = applied - 1
	}
	if v != nil {
		h.Epoch = v.epoch
		if len(v.shards) > 0 {
			h.NodeStatus = "Active"
		}
		sum, detail := e.shards.summary(v.shards)
		h.ShardSummary = api.ShardSummary{Owned: len(v.shards), OwnedShardStatus: sum}
		if detailed {
			h.ShardDetail = &api.ShardDetail{Owned: detail}
		}
		// Read-only: shards the node still holds slivers of but no longer owns (lost at an
		// epoch change, kept until the change is done and their new owners hold them; see
		// migrate.go).
		held, err := e.store.Shards(ctx)
		if err != nil {
			return h, err
		}
		for _, s := range held {
			if !v.owned[s] {
				h.ShardSummary.ReadOnly++
				if detailed {
					h.ShardDetail.Other = append(h.ShardDetail.Other, api.ShardStatus{Shard: s, Status: "readOnly"})
				}
			}
		}
	}
	h.Challenges = e.Challenges.Health()
	return h, nil
}
