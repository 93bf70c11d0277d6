package engine

import (
	"sync"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/nodestore"
)

// shardHealth tracks what the node knows of the state of its shards, for its health: a shard
// is ready once a sweep over the node's blobs covered it (since the node gained it, or
// started) and no certified blob is known to miss a sliver in it; otherwise it is in recovery
// (Walrus's statuses, spec §5.3: the node has not yet checked it, has not received its
// slivers, or is rebuilding them).
type shardHealth struct {
	mu sync.Mutex
	// swept holds the shards that the last completed sweep covered.
	swept map[uint16]bool
	// missing holds, per shard, the certified blobs known to miss a sliver in it; byBlob the
	// shards each of them misses slivers in.
	missing map[uint16]map[blob.ID]bool
	byBlob  map[blob.ID][]uint16
	// transfer holds the gained shards being pulled from their previous owners, pulled the
	// epoch each gained shard was last pulled for (migrate.go).
	transfer map[uint16]bool
	pulled   map[uint16]uint32
	// retained holds the shards the node keeps without owning them (migrate.go).
	retained map[uint16]bool
}

func newShardHealth() *shardHealth {
	return &shardHealth{swept: map[uint16]bool{}, missing: map[uint16]map[blob.ID]bool{}, byBlob: map[blob.ID][]uint16{},
		transfer: map[uint16]bool{}, pulled: map[uint16]uint32{}, retained: map[uint16]bool{}}
}

// sweptShards records a completed sweep over shards.
func (h *shardHealth) sweptShards(shards []uint16) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.swept = make(map[uint16]bool, len(shards))
	for _, s := range shards {
		h.swept[s] = true
	}
}

// setMissing records the slivers blob id misses in the node's shards (none: it misses
// nothing, or no longer needs to be held).
func (h *shardHealth) setMissing(id blob.ID, missing []nodestore.SliverRef) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.byBlob[id] {
		if ids := h.missing[s]; ids != nil {
			if delete(ids, id); len(ids) == 0 {
				delete(h.missing, s)
			}
		}
	}
	delete(h.byBlob, id)
	for _, ref := range missing {
		if h.missing[ref.Shard] == nil {
			h.missing[ref.Shard] = map[blob.ID]bool{}
		}
		if !h.missing[ref.Shard][id] {
			h.missing[ref.Shard][id] = true
			h.byBlob[id] = append(h.byBlob[id], ref.Shard)
		}
	}
}

// status returns the status of an owned shard: "inTransfer", "ready" or "inRecovery".
func (h *shardHealth) status(s uint16) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.transfer[s] {
		return "inTransfer"
	}
	if h.swept[s] && len(h.missing[s]) == 0 {
		return "ready"
	}
	return "inRecovery"
}

// summary counts the statuses of shards.
func (h *shardHealth) summary(shards []uint16) (api.ShardStatusSummary, []api.ShardStatus) {
	var sum api.ShardStatusSummary
	detail := make([]api.ShardStatus, 0, len(shards))
	for _, s := range shards {
		st := h.status(s)
		switch st {
		case "ready":
			sum.Ready++
		case "inTransfer":
			sum.InTransfer++
		default:
			sum.InRecovery++
		}
		detail = append(detail, api.ShardStatus{Shard: s, Status: st})
	}
	return sum, detail
}
