package engine

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the node's Prometheus metrics, registered on the registry of its Config.
type metrics struct {
	slivers          *prometheus.CounterVec
	eventsApplied    prometheus.Counter
	eventErrors      prometheus.Counter
	eventCursor      prometheus.Gauge
	epoch            prometheus.Gauge
	ownedShards      prometheus.Gauge
	pendingBytes     prometheus.Gauge
	confirmations    *prometheus.CounterVec
	scrubQuarantined prometheus.Counter

	recoveryBytes     *prometheus.CounterVec
	recoverySymbols   *prometheus.CounterVec
	recoveredSlivers  *prometheus.CounterVec
	recoveryFailures  prometheus.Counter
	recoveryQueue     prometheus.Gauge
	readQuarantined   prometheus.Counter
	inconsistency     *prometheus.CounterVec
	invalidationsSent prometheus.Counter
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		slivers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "floe_node_slivers_total", Help: "Slivers handled, by outcome.",
		}, []string{"outcome"}),
		eventsApplied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "floe_node_events_applied_total", Help: "Control-plane events applied.",
		}),
		eventErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "floe_node_event_errors_total", Help: "Failures to fetch or apply control-plane events.",
		}),
		eventCursor: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "floe_node_event_cursor", Help: "Sequence number of the last applied event.",
		}),
		epoch: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "floe_node_epoch", Help: "Epoch of the node's committee view.",
		}),
		ownedShards: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "floe_node_owned_shards", Help: "Shards the node owns in its current epoch.",
		}),
		pendingBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "floe_node_pending_bytes", Help: "Bytes held in the pending upload buffer.",
		}),
		confirmations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "floe_node_confirmations_total", Help: "Storage confirmations signed, by persistence type.",
		}, []string{"type"}),
		scrubQuarantined: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "floe_node_scrub_quarantined_total", Help: "Slivers the scrubber quarantined.",
		}),
		recoveryBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "floe_node_recovery_bytes_total", Help: "Response bytes fetched from other nodes to recover slivers, by kind (symbols, metadata).",
		}, []string{"kind"}),
		recoverySymbols: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "floe_node_recovery_symbols_total", Help: "Recovery symbols that rebuilt slivers, by source: the node's own slivers (local, no bytes fetched) or other nodes (peers).",
		}, []string{"source"}),
		recoveredSlivers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "floe_node_recovered_slivers_total", Help: "Slivers rebuilt from recovery symbols, by axis.",
		}, []string{"axis"}),
		recoveryFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "floe_node_recovery_failures_total", Help: "Blob recoveries that failed (and were rescheduled).",
		}),
		recoveryQueue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "floe_node_recovery_queue", Help: "Blobs queued for sliver recovery.",
		}),
		readQuarantined: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "floe_node_read_quarantined_total", Help: "Stored slivers found corrupt when read, and quarantined.",
		}),
		inconsistency: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "floe_node_inconsistency_proofs_total", Help: "Inconsistency proofs built by this node (built) and received (attested, rejected).",
		}, []string{"outcome"}),
		invalidationsSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "floe_node_invalidations_submitted_total", Help: "Invalid-blob certificates this node submitted to the control plane.",
		}),
	}
	for _, c := range []prometheus.Collector{m.slivers, m.eventsApplied,
		m.eventErrors, m.eventCursor, m.epoch, m.ownedShards, m.pendingBytes, m.confirmations, m.scrubQuarantined,
		m.recoveryBytes, m.recoverySymbols, m.recoveredSlivers, m.recoveryFailures, m.recoveryQueue, m.readQuarantined, m.inconsistency,
		m.invalidationsSent} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("storagenode: metrics: %w", err)
		}
	}
	return m, nil
}
