package engine

import (
	"fmt"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floelabs/floe/internal/nodestore"
)

// migrateMetrics count shard transfers.
type migrateMetrics struct {
	served    prometheus.Counter
	slivers   prometheus.Counter
	bytes     prometheus.Counter
	fallbacks prometheus.Counter
	retained  prometheus.Gauge
}

func newMigrateMetrics(reg *prometheus.Registry) (*migrateMetrics, error) {
	m := &migrateMetrics{
		served: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_node_sync_shard_served_slivers_total",
			Help: "Slivers sent to members that gained this node's former shards (sync_shard)."}),
		slivers: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_node_sync_shard_slivers_total",
			Help: "Slivers of gained shards received from their previous owners and stored."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_node_sync_shard_bytes_total",
			Help: "Sliver bytes of gained shards received from their previous owners and stored."}),
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_node_sync_shard_fallbacks_total",
			Help: "Gained shards whose transfer failed (owner down or lying), left to recovery."}),
		retained: prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_node_retained_shards",
			Help: "Shards the node holds without owning them, kept until the epoch change is done and their owners hold them."}),
	}
	for _, c := range []prometheus.Collector{m.served, m.slivers, m.bytes, m.fallbacks, m.retained} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("storagenode: metrics: %w", err)
		}
	}
	return m, nil
}

// startTransfer marks shard in transfer for epoch; it reports false if the shard was pulled
// (or is being pulled) for that epoch already.
func (h *shardHealth) startTransfer(epoch uint32, shard uint16) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pulled[shard] >= epoch && h.pulled[shard] != 0 {
		return false
	}
	h.pulled[shard] = epoch
	h.transfer[shard] = true
	return true
}

// markTransfer marks shards, gained at the change to epoch, in transfer before their pull
// starts, so that the recovery sweep leaves them to it.
func (h *shardHealth) markTransfer(epoch uint32, shards []uint16) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range shards {
		if h.pulled[s] < epoch {
			h.transfer[s] = true
		}
	}
}

// keepTransfer ends the marks of shards not pulled for epoch that are not in gained (a
// view's guess that the migration's reading of the committees corrected).
func (h *shardHealth) keepTransfer(epoch uint32, gained []uint16) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.transfer {
		if h.pulled[s] < epoch && !slices.Contains(gained, s) {
			delete(h.transfer, s)
		}
	}
}

// endTransfer ends the transfer of shard (recovery takes over what is missing).
func (h *shardHealth) endTransfer(shard uint16) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.transfer, shard)
}

// notInTransfer returns the refs whose shards are not being pulled (recovery leaves the
// others to the transfer).
func (h *shardHealth) notInTransfer(refs []nodestore.SliverRef) []nodestore.SliverRef {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.transfer) == 0 {
		return refs
	}
	out := make([]nodestore.SliverRef, 0, len(refs))
	for _, r := range refs {
		if !h.transfer[r.Shard] {
			out = append(out, r)
		}
	}
	return out
}

// setRetained records the shards the node keeps without owning them.
func (h *shardHealth) setRetained(shards []uint16) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.retained = make(map[uint16]bool, len(shards))
	for _, s := range shards {
		h.retained[s] = true
	}
}

// isRetained reports whether the node keeps shard without owning it.
func (h *shardHealth) isRetained(shard uint16) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.retained[shard]
}

// retainedShards returns the shards the node keeps without owning them, in order.
func (h *shardHealth) retainedShards() []uint16 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]uint16, 0, len(h.retained))
	for s := range h.retained {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}
