package explorer

import (
	"context"
	"errors"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	cpapi "github.com/floelabs/floe/api/controlplane"
	snapi "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/nodeclient"
)

// Event is a control-plane event as the explorer lists it.
type Event = cpapi.Event

// maxEvents is how many recent events the overview lists.
const maxEvents = 60

// Snapshot is the network at one moment.
type Snapshot struct {
	At time.Time `json:"at"`
	// ChainError says why the control plane could not be read (then Chain is the last known).
	ChainError string         `json:"chainError,omitempty"`
	Chain      *Chain         `json:"chain,omitempty"`
	Nodes      []Node         `json:"nodes"`
	Recovery   Recovery       `json:"recovery"`
	Targets    []TargetStatus `json:"targets"`
	Events     []Event        `json:"events"`
	// Last is the newest point of the history.
	Last Point `json:"last"`
}

// Chain is what the control plane says about the system.
type Chain struct {
	URL             string        `json:"url"`
	ChainID         string        `json:"chainId"`
	Height          uint64        `json:"height"`
	BlockTime       time.Time     `json:"blockTime"`
	Epoch           uint32        `json:"epoch"`
	EpochStart      time.Time     `json:"epochStart"`
	NextEpoch       time.Time     `json:"nextEpoch"`
	EpochDuration   time.Duration `json:"epochDuration"`
	EpochProgress   float64       `json:"epochProgress"` // 0..1, by the explorer's clock
	NShards         int           `json:"nShards"`
	MaxEpochsAhead  uint32        `json:"maxEpochsAhead"`
	CommitteeSize   int           `json:"committeeSize"`
	RegisteredNodes int           `json:"registeredNodes"`
	// Prices are per MiB of encoded size (storage per epoch); Capacity and Used are encoded
	// bytes of the current epoch.
	StoragePrice uint64 `json:"storagePricePerMiBEpoch"`
	WritePrice   uint64 `json:"writePricePerMiB"`
	Capacity     uint64 `json:"capacity"`
	Used         uint64 `json:"used"`
	// CostExample is what storing 1 MiB for one epoch costs now (nil if unknown).
	CostExample *cpapi.Cost `json:"costExample,omitempty"`
	TotalStake  uint64      `json:"totalStake"`
	EventSeq    uint64      `json:"eventSeq"`
	// Rewards and slashing: the current epoch's reward pool so far, and what storage
	// challenges took since genesis (rewards withheld and burnt, stake slashed).
	RewardPool   uint64 `json:"rewardPool"`
	RewardsBurnt uint64 `json:"rewardsBurnt"`
	StakeSlashed uint64 `json:"stakeSlashed"`
	// Challenges: rounds per epoch (0: the network runs none), samples per node per round,
	// the slashing rule, and the current epoch's rounds (nil when the control plane did not
	// answer the challenge query; ChallengeError says why).
	ChallengeRounds        int    `json:"challengeRoundsPerEpoch"`
	ChallengeSamples       int    `json:"challengeSamples"`
	SlashAfterFailedEpochs uint32 `json:"slashAfterFailedEpochs"`
	SlashBasisPoints       uint16 `json:"slashBasisPoints"`
	// ExcludeAfterMissedEpochs: a node that missed every round of so many epochs in a row
	// leaves the committee (0: never).
	ExcludeAfterMissedEpochs uint32        `json:"excludeAfterMissedEpochs"`
	Rounds                   []RoundStatus `json:"rounds"`
	ChallengeError           string        `json:"challengeError,omitempty"`
}

// RoundStatus is one storage-challenge round of the current epoch.
type RoundStatus struct {
	Round        uint32    `json:"round"`
	Opened       time.Time `json:"opened"`
	SeedFixed    bool      `json:"seedFixed"`
	ShareWeight  int       `json:"shareWeight"`
	QuorumWeight int       `json:"quorumWeight"`
	Blobs        int       `json:"eligibleBlobs"`
	Passed       int       `json:"passed"`
	Failed       int       `json:"failed"`
	Open         int       `json:"open"`
}

// Challenges is a node's storage-challenge record: its status in the current epoch's latest
// round and its accountability since genesis.
type Challenges struct {
	// Round and Status: the node's status in the latest round of the current epoch ("" when
	// no round has opened or the node is not challenged in it).
	Round  uint32 `json:"round"`
	Status string `json:"status"`
	// Since genesis.
	RoundsPassed    uint64 `json:"roundsPassed"`
	RoundsFailed    uint64 `json:"roundsFailed"`
	RoundsMissed    uint64 `json:"roundsMissed"`
	EpochsFailed    uint64 `json:"epochsFailed"`
	FailedInARow    uint32 `json:"failedEpochsInARow"`
	RewardsEarned   uint64 `json:"rewardsEarned"`
	RewardsHeld     uint64 `json:"rewardsHeld"`
	RewardsWithheld uint64 `json:"rewardsWithheld"`
	Slashed         uint64 `json:"slashed"`
	Slashings       uint32 `json:"slashings"`
	ExcludedEpoch   uint32 `json:"excludedEpoch,omitempty"`
}

// Node is one registered storage node or committee member, with what its health route and
// metrics said.
type Node struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Address         string `json:"address"`
	Owner           string `json:"owner,omitempty"`
	Commission      uint16 `json:"commissionBps"`
	RegisteredEpoch uint32 `json:"registeredEpoch"`
	InCommittee     bool   `json:"inCommittee"`
	// Stake counts in the current committee (0 for a node outside it).
	Stake uint64 `json:"stake"`
	// StakeShare is Stake over the committee's total stake.
	StakeShare float64  `json:"stakeShare"`
	Shards     []uint16 `json:"shards"`
	// Up: the health route answered; else Error says what failed.
	Up        bool    `json:"up"`
	Error     string  `json:"error,omitempty"`
	LatencyMs float64 `json:"latencyMs"`
	// From the health route.
	Status        string                   `json:"status"` // Active, Standby, RecoveryCatchUp; "down"
	Epoch         uint32                   `json:"epoch"`
	EventsPending uint64                   `json:"eventsPending"`
	EventsDone    uint64                   `json:"eventsPersisted"`
	Uptime        time.Duration            `json:"uptime"`
	Owned         int                      `json:"ownedShards"`
	ShardStatus   snapi.ShardStatusSummary `json:"shardStatus"`
	ShardDetail   []snapi.ShardStatus      `json:"shardDetail,omitempty"`
	ReadOnly      int                      `json:"readOnlyShards"`
	// From its metrics target (unknown without one).
	DiskBytes        Value  `json:"diskBytes"`
	RecoveryQueue    Value  `json:"recoveryQueue"`
	RecoveredSlivers Value  `json:"recoveredSlivers"`
	MetricsError     string `json:"metricsError,omitempty"`
	// Challenges is the control plane's record of the node (nil when unknown).
	Challenges *Challenges `json:"challenges,omitempty"`
}

// Recovery sums what the nodes report about recovery and shard transfers.
type Recovery struct {
	ShardsInRecovery int      `json:"shardsInRecovery"`
	ShardsInTransfer int      `json:"shardsInTransfer"`
	ShardsUnknown    int      `json:"shardsUnknown"`
	CatchingUp       []string `json:"catchingUp"`
	// BlobsQueued is the sum of floe_node_recovery_queue over the nodes with metrics.
	BlobsQueued Value `json:"blobsQueued"`
	// SliversRecovered is the sum of floe_node_recovered_slivers_total.
	SliversRecovered Value `json:"sliversRecovered"`
	// NodesReporting is how many nodes' metrics answered.
	NodesReporting int `json:"nodesReporting"`
}

// TargetStatus is the outcome of the last scrape of a metrics endpoint.
type TargetStatus struct {
	Target
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Sample reads the network once: the control plane, every node's health, every metrics
// target; it records a point of history and a new snapshot.
func (x *Explorer) Sample(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, max(x.cfg.Interval, 10*time.Second))
	defer cancel()
	now := x.cfg.Now()
	snap := &Snapshot{At: now, Nodes: []Node{}, Targets: []TargetStatus{}}
	x.mu.Lock()
	old := x.snap
	x.mu.Unlock()

	chain, committee, registered, acc, err := x.readChain(ctx, now)
	if err != nil {
		snap.ChainError = err.Error()
		if old != nil {
			snap.Chain = old.Chain
			// Keep polling the nodes last seen.
			for _, n := range old.Nodes {
				n.Up, n.Error, n.ShardDetail = false, "", nil
				snap.Nodes = append(snap.Nodes, n)
			}
		}
	} else {
		snap.Chain = chain
		snap.Nodes = mergeNodes(committee, registered)
		acc.annotate(snap.Nodes)
		for i := range snap.Nodes {
			if chain.TotalStake > 0 {
				snap.Nodes[i].StakeShare = float64(snap.Nodes[i].Stake) / float64(chain.TotalStake)
			}
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); x.pollNodes(ctx, snap.Nodes, committee, registered) }()
	scrapes, statuses := x.scrapeAll(ctx)
	wg.Wait()
	snap.Targets = statuses
	byName := map[string]*metrics{}
	for _, st := range statuses {
		if st.OK {
			byName[st.Name] = scrapes[st.Name]
		}
	}
	for i := range snap.Nodes {
		n := &snap.Nodes[i]
		n.DiskBytes, n.RecoveryQueue, n.RecoveredSlivers = Unknown(), Unknown(), Unknown()
		m, has := byName[n.Name]
		if !has {
			for _, st := range statuses {
				if st.Name == n.Name && !st.OK {
					n.MetricsError = st.Error
				}
			}
			continue
		}
		if v, ok := m.get("floe_node_disk_bytes"); ok {
			n.DiskBytes = Value(v)
		}
		if v, ok := m.get("floe_node_recovery_queue"); ok {
			n.RecoveryQueue = Value(v)
		}
		if v, ok := m.get("floe_node_recovered_slivers_total"); ok {
			n.RecoveredSlivers = Value(v)
		}
	}
	snap.Recovery = summarizeRecovery(snap.Nodes)
	if snap.Chain != nil && err == nil {
		x.followEvents(ctx, snap.Chain.EventSeq)
	}

	x.mu.Lock()
	defer x.mu.Unlock()
	p := x.point(now, snap, scrapes)
	x.prev, x.prevAt = scrapes, now
	x.hist.add(p)
	snap.Last = p
	snap.Events = make([]Event, 0, len(x.events))
	for i := len(x.events) - 1; i >= 0; i-- {
		snap.Events = append(snap.Events, x.events[i]) // newest first
	}
	x.snap = snap
}

// readChain reads the control plane's info, committee, registered nodes and a cost example.
func (x *Explorer) readChain(ctx context.Context, now time.Time) (*Chain, *cpapi.Committee, []cpapi.Node, *accountability, error) {
	info, err := x.cp.Info(ctx)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	var committee *cpapi.Committee
	var registered []cpapi.Node
	var cost *cpapi.Cost
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { committee, err = x.cp.CurrentCommittee(gctx); return err })
	g.Go(func() (err error) { registered, err = x.cp.Nodes(gctx); return err })
	g.Go(func() error {
		// A network without a committee has no prices: no example then.
		if c, err := x.cp.Cost(gctx, 1<<20, 1); err == nil {
			cost = c
		}
		return nil
	})
	acc := &accountability{}
	g.Go(func() error {
		// A control plane without challenge queries leaves them unknown.
		acc.rounds, acc.roundsErr = x.cp.CurrentChallenges(gctx)
		acc.report, acc.reportErr = x.cp.Accountability(gctx)
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, nil, nil, nil, err
	}
	c := &Chain{URL: x.cfg.ControlPlaneURL, ChainID: info.Params.ChainID, Height: info.Height, BlockTime: time.UnixMilli(info.TimeMs),
		Epoch: info.Epoch, EpochStart: time.UnixMilli(info.EpochStartMs), NextEpoch: time.UnixMilli(info.NextEpochMs),
		EpochDuration: time.Duration(info.Params.EpochDurationMs) * time.Millisecond, NShards: info.Params.NShards,
		MaxEpochsAhead: info.Params.MaxEpochsAhead, CommitteeSize: info.CommitteeSize, RegisteredNodes: info.RegisteredNode,
		StoragePrice: info.Prices.StoragePrice, WritePrice: info.Prices.WritePrice, Capacity: info.Prices.Capacity,
		Used: info.Prices.Used, CostExample: cost, EventSeq: info.EventSeq,
		RewardPool: info.RewardPool, RewardsBurnt: info.RewardsBurnt, StakeSlashed: info.StakeSlashed,
		ChallengeRounds: info.Params.ChallengeRounds, ChallengeSamples: info.Params.ChallengeSamples,
		SlashAfterFailedEpochs: info.Params.SlashAfterFailedEpochs, SlashBasisPoints: info.Params.SlashBasisPoints,
		ExcludeAfterMissedEpochs: info.Params.ExcludeAfterMissedEpochs}
	acc.fill(c)
	if span := info.NextEpochMs - info.EpochStartMs; span > 0 {
		c.EpochProgress = math.Min(1, math.Max(0, float64(now.UnixMilli()-info.EpochStartMs)/float64(span)))
	}
	for _, m := range committee.Members {
		c.TotalStake += m.Stake
	}
	return c, committee, registered, acc, nil
}

// mergeNodes lists the committee's members (in committee order), then the registered nodes
// outside it (by name).
func mergeNodes(c *cpapi.Committee, registered []cpapi.Node) []Node {
	byID := map[cpapi.ObjectID]cpapi.Node{}
	for _, n := range registered {
		byID[n.ID] = n
	}
	out := []Node{}
	inCommittee := map[cpapi.ObjectID]bool{}
	if c != nil {
		for _, m := range c.Members {
			inCommittee[m.NodeID] = true
			n := Node{ID: m.NodeID.String(), Name: m.Name, Address: m.NetworkAddress, InCommittee: true, Stake: m.Stake,
				Shards: append([]uint16(nil), m.Shards...)}
			if r, ok := byID[m.NodeID]; ok {
				n.Owner, n.Commission, n.RegisteredEpoch = r.Owner.String(), r.Commission, r.RegisteredEpoch
			}
			out = append(out, n)
		}
	}
	var rest []Node
	for _, r := range registered {
		if inCommittee[r.ID] {
			continue
		}
		rest = append(rest, Node{ID: r.ID.String(), Name: r.Name, Address: r.NetworkAddress, Owner: r.Owner.String(),
			Commission: r.Commission, RegisteredEpoch: r.RegisteredEpoch, Shards: []uint16{}})
	}
	sort.SliceStable(rest, func(i, j int) bool { return rest[i].Name < rest[j].Name })
	return append(out, rest...)
}

// nodeRef returns the nodeclient description of a node from the control plane's records.
func nodeRef(id string, committee *cpapi.Committee, registered []cpapi.Node) (nodeclient.Node, bool) {
	for _, r := range registered {
		if r.ID.String() == id {
			return nodeclient.Node{Name: r.Name, Address: r.NetworkAddress, NetworkKey: r.NetworkPublicKey,
				BLSKey: crypto.BLSPublicKey(r.BLSPublicKey)}, true
		}
	}
	if committee != nil {
		for _, m := range committee.Members {
			if m.NodeID.String() == id {
				return nodeclient.Node{Name: m.Name, Address: m.NetworkAddress, NetworkKey: m.NetworkPublicKey,
					BLSKey: crypto.BLSPublicKey(m.BLSPublicKey)}, true
			}
		}
	}
	return nodeclient.Node{}, false
}

// pollNodes asks every node its health (with shard detail), at most 16 at once.
func (x *Explorer) pollNodes(ctx context.Context, nodes []Node, committee *cpapi.Committee, registered []cpapi.Node) {
	var g errgroup.Group
	g.SetLimit(16)
	for i := range nodes {
		n := &nodes[i]
		ref, ok := nodeRef(n.ID, committee, registered)
		if !ok {
			x.mu.Lock()
			ref, ok = x.knownRefs[n.ID]
			x.mu.Unlock()
		}
		if !ok {
			n.Status, n.Error = "unknown", "not described by the control plane"
			continue
		}
		x.mu.Lock()
		x.knownRefs[n.ID] = ref
		x.mu.Unlock()
		g.Go(func() error {
			x.pollNode(ctx, n, ref)
			return nil
		})
	}
	g.Wait()
}

func (x *Explorer) pollNode(ctx context.Context, n *Node, ref nodeclient.Node) {
	c, err := x.nodes.Client(ref)
	if err != nil {
		n.Status, n.Error = "down", err.Error()
		return
	}
	ctx, cancel := context.WithTimeout(ctx, x.cfg.NodeTimeout)
	defer cancel()
	start := time.Now()
	h, err := c.Health(ctx, true)
	took := time.Since(start)
	if err != nil {
		n.Status, n.Error = "down", healthError(err)
		return
	}
	n.Up, n.LatencyMs = true, float64(took.Microseconds())/1000
	n.Status, n.Epoch = h.NodeStatus, h.Epoch
	n.EventsPending, n.EventsDone = h.EventProgress.Pending, h.EventProgress.Persisted
	n.Uptime = time.Duration(h.Uptime.Secs)*time.Second + time.Duration(h.Uptime.Nanos)
	n.Owned, n.ShardStatus, n.ReadOnly = h.ShardSummary.Owned, h.ShardSummary.OwnedShardStatus, h.ShardSummary.ReadOnly
	if h.ShardDetail != nil {
		n.ShardDetail = h.ShardDetail.Owned
	}
}

// healthError shortens what a failed health request says.
func healthError(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer within the timeout"
	}
	return err.Error()
}

func summarizeRecovery(nodes []Node) Recovery {
	r := Recovery{CatchingUp: []string{}, BlobsQueued: Unknown(), SliversRecovered: Unknown()}
	var queued, recovered float64
	for _, n := range nodes {
		if n.Up {
			r.ShardsInRecovery += n.ShardStatus.InRecovery
			r.ShardsInTransfer += n.ShardStatus.InTransfer
			r.ShardsUnknown += n.ShardStatus.Unknown
			if n.Status == "RecoveryCatchUp" {
				r.CatchingUp = append(r.CatchingUp, n.Name)
			}
		}
		if n.RecoveryQueue.Known() {
			r.NodesReporting++
			queued += float64(n.RecoveryQueue)
			if n.RecoveredSlivers.Known() {
				recovered += float64(n.RecoveredSlivers)
			}
		}
	}
	if r.NodesReporting > 0 {
		r.BlobsQueued, r.SliversRecovered = Value(queued), Value(recovered)
	}
	return r
}

// scrapeAll reads every metrics target and the daemon's own registry (named "").
func (x *Explorer) scrapeAll(ctx context.Context) (map[string]*metrics, []TargetStatus) {
	out := map[string]*metrics{}
	statuses := make([]TargetStatus, len(x.cfg.Targets))
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(16)
	for i, t := range x.cfg.Targets {
		g.Go(func() error {
			m, err := scrapeURL(ctx, x.cfg.HTTPClient, t.URL)
			statuses[i] = TargetStatus{Target: t, OK: err == nil}
			if err != nil {
				statuses[i].Error = err.Error()
				return nil
			}
			mu.Lock()
			out[t.Name] = m
			mu.Unlock()
			return nil
		})
	}
	g.Wait()
	if x.cfg.Self != nil {
		if fams, err := x.cfg.Self.Gather(); err == nil {
			m := newMetrics()
			m.add(fams)
			out[""] = m
		} else {
			x.log.Warn("explorer: gathering the daemon's metrics", "err", err)
		}
	}
	return out, statuses
}

// Daemon route names in floe_daemon_requests_total and floe_daemon_request_seconds.
var (
	storeRoutes = []string{"store", "store-quilt"}
	readRoutes  = []string{"read", "sub", "read-quilt-patch", "read-quilt-patch-by-identifier"}
)

// point computes a point of history from this scrape and the previous one (x.mu held).
func (x *Explorer) point(now time.Time, snap *Snapshot, cur map[string]*metrics) Point {
	p := nanPoint(now)
	if snap.Chain != nil && snap.ChainError == "" {
		p.ReservedBytes = Value(snap.Chain.Used)
	}
	var stored float64
	storedKnown := false
	for _, n := range snap.Nodes {
		if n.DiskBytes.Known() {
			stored += float64(n.DiskBytes)
			storedKnown = true
		}
	}
	if storedKnown {
		p.StoredBytes = Value(stored)
	}
	var rtts []float64
	for _, n := range snap.Nodes {
		if n.Up {
			rtts = append(rtts, n.LatencyMs/1000)
		}
	}
	if len(rtts) > 0 {
		slices.Sort(rtts)
		p.NodeRTT = Value(rtts[len(rtts)/2])
	}
	dt := now.Sub(x.prevAt)
	if x.prevAt.IsZero() {
		return p
	}
	// Node traffic: the sum over the targets that answered both times.
	var in, out float64
	var known bool
	for name, m := range cur {
		if name == "" {
			continue
		}
		pm := x.prev[name]
		if pm == nil {
			continue
		}
		// A labelled counter appears at its first increment: absent before, it was 0.
		ci, ok := m.get(`floe_node_http_body_bytes_total{direction=in}`)
		pi, _ := pm.get(`floe_node_http_body_bytes_total{direction=in}`)
		if r := rate(ci, pi, ok, true, dt); r.Known() {
			in += float64(r)
			known = true
		}
		co, ok := m.get(`floe_node_http_body_bytes_total{direction=out}`)
		po, _ := pm.get(`floe_node_http_body_bytes_total{direction=out}`)
		if r := rate(co, po, ok, true, dt); r.Known() {
			out += float64(r)
			known = true
		}
	}
	if known {
		p.NodeInRate, p.NodeOutRate = Value(in), Value(out)
	}
	self, prevSelf := cur[""], x.prev[""]
	if self == nil || prevSelf == nil {
		return p
	}
	p.StoreRate = routesRate(self, prevSelf, storeRoutes, dt)
	p.ReadRate = routesRate(self, prevSelf, readRoutes, dt)
	p.StoreP50, p.StoreP99 = routesQuantiles(self, prevSelf, storeRoutes)
	p.ReadP50, p.ReadP99 = routesQuantiles(self, prevSelf, readRoutes)
	return p
}

func routesRate(cur, prev *metrics, routes []string, dt time.Duration) Value {
	var sum float64
	for _, r := range routes {
		key := "floe_daemon_requests_total{route=" + r + "}"
		c, ok := cur.get(key)
		if !ok {
			continue
		}
		p, _ := prev.get(key) // a route first counted in this interval started at 0
		if v := rate(c, p, true, true, dt); v.Known() {
			sum += float64(v)
		}
	}
	return Value(sum)
}

func routesQuantiles(cur, prev *metrics, routes []string) (Value, Value) {
	var merged *histogram
	for _, r := range routes {
		key := "floe_daemon_request_seconds{route=" + r + "}"
		c := cur.hists[key]
		if c == nil {
			continue
		}
		p := prev.hists[key]
		if p == nil {
			p = &histogram{bounds: c.bounds, counts: make([]float64, len(c.counts))}
		}
		d := c.delta(p)
		if d == nil {
			continue
		}
		if merged == nil {
			merged = d
		} else if equalBounds(merged.bounds, d.bounds) {
			for i := range d.counts {
				merged.counts[i] += d.counts[i]
			}
			merged.count += d.count
			merged.sum += d.sum
		}
	}
	return Value(merged.quantile(0.5)), Value(merged.quantile(0.99))
}

// followEvents reads the events since the last call (at most a few pages) and keeps the
// latest maxEvents worth listing (x.mu not held).
func (x *Explorer) followEvents(ctx context.Context, latest uint64) {
	x.mu.Lock()
	cursor, started := x.cursor, x.started
	x.mu.Unlock()
	if !started || cursor > latest {
		// Start with the recent past; a control plane that restarted from scratch restarts us.
		cursor = latest - min(latest, 500)
	}
	var got []Event
	for range 4 {
		if cursor >= latest {
			break
		}
		page, err := x.cp.Events(ctx, cursor, 500, 0)
		if err != nil {
			// Pruned or unavailable: skip to the recent past.
			x.log.Debug("explorer: events", "from", cursor, "err", err)
			cursor = latest - min(latest, 100)
			break
		}
		for _, e := range page.Events {
			if listed(e.Type) {
				got = append(got, e)
			}
		}
		if page.Next <= cursor {
			break
		}
		cursor = page.Next
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.cursor, x.started = cursor, true
	x.events = append(x.events, got...)
	if len(x.events) > maxEvents {
		x.events = append([]Event(nil), x.events[len(x.events)-maxEvents:]...)
	}
}

// listed reports whether the overview lists events of type t.
func listed(t cpapi.EventType) bool {
	switch t {
	case cpapi.EventBlobRegistered, cpapi.EventBlobCertified, cpapi.EventBlobDeleted, cpapi.EventBlobExtended,
		cpapi.EventInvalidBlobID, cpapi.EventEpochChangeStart, cpapi.EventEpochChangeDone, cpapi.EventNodeRegistered,
		cpapi.EventStaked, cpapi.EventStakeWithdrawn, cpapi.EventObjectsExpired:
		return true
	}
	return false
}
