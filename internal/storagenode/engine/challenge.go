package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	cpapi "github.com/floelabs/floe/api/controlplane"
	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/challenge"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/fanout"
	"github.com/floelabs/floe/internal/nodestore"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

// Storage challenges (internal/challenge describes the protocol, the control plane runs the
// rounds). The node takes part as a member of its epoch's committee:
//
//   - it gives its seed share of every round of the current epoch that awaits its seed;
//   - once the seed is fixed and the node is challenged, it answers its samples: it reads each
//     sampled sliver (a sliver it lacks or finds corrupt is first recovered from its peers, as
//     any missing sliver is), proves the sampled symbols against the blob's metadata, checks its
//     own proofs, signs the answer and sends it to the other members; their pass attestations
//     and its own, once they cover a quorum of the shards, go to the control plane as one
//     certificate;
//   - it verifies the answers the other members send (challenge_verify.go) and attests them.
//
// Nothing waits on a clock but the epoch: the node retries until it has passed or the epoch is
// over. Each pass is driven by control-plane events (the round's opening, its seed) and by a
// periodic poll, so a node that was down or behind picks up where it stands: every
// ChallengePoll while a round of the node's is open or a pass failed, every ChallengeIdlePoll
// once its rounds are settled (the events wake it for the next one).
// A node with recovery disabled (a test configuration) cannot get back what it lacks, so it
// answers the samples it cannot prove as missing, and the verifiers attest that it failed.

// ChallengeControlPlane is what storage challenges need from the control plane.
type ChallengeControlPlane interface {
	// ChallengeEpoch returns the challenge rounds of an epoch, or an error wrapping
	// ErrNoChallenge if it has none.
	ChallengeEpoch(ctx context.Context, epoch uint32) (*cpapi.ChallengeEpoch, error)
	// NodeChallenge returns a node's challenge in a round with its samples, or an error
	// wrapping ErrNoChallenge.
	NodeChallenge(ctx context.Context, epoch, round uint32, node cpapi.ObjectID) (*cpapi.NodeChallenge, error)
	// BlobStatus returns the control plane's status of a blob ID.
	BlobStatus(ctx context.Context, id blob.ID) (cpapi.BlobStatus, error)
	// NodeAccountability returns a node's challenge record, or an error wrapping
	// ErrNoChallenge if it has none yet.
	NodeAccountability(ctx context.Context, node cpapi.ObjectID) (*cpapi.Accountability, error)
}

// Errors of challenges.
var (
	// ErrNoChallenge: no such round or node challenge (or the node is not challenged now).
	ErrNoChallenge = errors.New("no open storage challenge")
	// ErrInvalidAnswer: an answer that is not the node's (bad signature) or not for its samples.
	ErrInvalidAnswer = errors.New("invalid challenge answer")
	// ErrExcuseRejected: an answer excuses a sample whose blob is still certified.
	ErrExcuseRejected = errors.New("challenge answer excuses a sample whose blob is still certified")
	// errIncomplete: the node cannot answer every sample yet (recovery is under way).
	errIncomplete = errors.New("not every sampled sliver is at hand yet")
)

// Challenges is the node's part in storage challenges.
type Challenges struct {
	*core
	wake chan struct{}
	m    *challengeMetrics
	// answersSent and attested (by verdict: 0 fail, 1 pass) count for Health since start.
	answersSent atomic.Uint64
	attested    [2]atomic.Uint64

	mu      sync.Mutex
	rounds  map[roundKey]*proverRound
	health  *api.ChallengeHealth
	lastErr string
	// failSent remembers the fail attestations this node submitted (one per node and round).
	failSent map[failKey]bool
	// committees caches committees by epoch (they never change once chosen).
	committees map[uint32]*cpapi.Committee
}

type roundKey struct{ epoch, round uint32 }

type failKey struct {
	roundKey
	node cpapi.ObjectID
}

// proverRound is the node's progress in proving one round: the pass attestations it
// collected, by member index.
type proverRound struct {
	sigs   map[int]crypto.BLSSignature
	weight int
}

type challengeMetrics struct {
	answers      *prometheus.CounterVec
	attestations *prometheus.CounterVec
	bytes        *prometheus.CounterVec
	proveSeconds prometheus.Histogram
}

func newChallengeMetrics(reg *prometheus.Registry) (*challengeMetrics, error) {
	m := &challengeMetrics{
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "floe_node_challenge_answers_total", Help: "Challenge answers this node built, by outcome (sent, incomplete, certified).",
		}, []string{"outcome"}),
		attestations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "floe_node_challenge_attestations_total", Help: "Attestations this node signed on other members' answers, by verdict.",
		}, []string{"verdict"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "floe_node_challenge_bytes_total", Help: "Challenge answer bytes sent (as prover, once per member) and received (as verifier).",
		}, []string{"direction"}),
		proveSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "floe_node_challenge_prove_seconds", Help: "CPU-bound time to build one answer (reading and proving the samples).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
	}
	for _, c := range []prometheus.Collector{m.answers, m.attestations, m.bytes, m.proveSeconds} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("storagenode: registering challenge metrics: %w", err)
		}
	}
	return m, nil
}

func newChallenges(c *core) (*Challenges, error) {
	m, err := newChallengeMetrics(c.cfg.Registry)
	if err != nil {
		return nil, err
	}
	return &Challenges{core: c, m: m, wake: make(chan struct{}, 1), rounds: map[roundKey]*proverRound{},
		failSent: map[failKey]bool{}, committees: map[uint32]*cpapi.Committee{}}, nil
}

// isChallengeEvent reports whether an event concerns challenges (the prover's wake-up).
func isChallengeEvent(t cpapi.EventType) bool {
	switch t {
	case cpapi.EventChallengeRoundOpened, cpapi.EventChallengeSeedFixed, cpapi.EventEpochChangeStart:
		return true
	}
	return false
}

// stepTimeout bounds one pass of the challenge loop.
const stepTimeout = 2 * time.Minute

// signal wakes the prover loop.
func (c *Challenges) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run takes part in the rounds until ctx ends.
func (c *Challenges) run(ctx context.Context) {
	tick, stop := c.newTicker(c.cfg.ChallengePoll)
	defer stop()
	logged := ""
	// Ticks to let pass before the next poll: none while a round is open or a pass failed.
	idleTicks := max(int(c.cfg.ChallengeIdlePoll/max(c.cfg.ChallengePoll, 1))-1, 0)
	for {
		// A pass is bounded, so that a request that hangs cannot hold up the next ones.
		sctx, cancel := context.WithTimeout(ctx, stepTimeout)
		open, err := c.step(sctx)
		cancel()
		switch {
		case ctx.Err() != nil:
		case err != nil && err.Error() != logged:
			// Logged when it changes: a node that keeps failing to answer says why once.
			logged = err.Error()
			c.log.Warn("storage challenge: not done yet; retrying", "err", err)
		case err == nil && logged != "":
			logged = ""
			c.log.Info("storage challenge: caught up")
		}
		skip := 0
		if err == nil && !open {
			skip = idleTicks
		}
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				return
			case <-tick:
				waiting, skip = skip > 0, skip-1
			case <-c.wake:
				waiting = false
			}
		}
	}
}

func (c *Challenges) setErr(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.lastErr = ""
	} else {
		c.lastErr = err.Error()
	}
}

// committee returns epoch's committee (cached).
func (c *Challenges) committee(ctx context.Context, epoch uint32) (*cpapi.Committee, error) {
	c.mu.Lock()
	cm := c.committees[epoch]
	c.mu.Unlock()
	if cm != nil {
		return cm, nil
	}
	cm, err := c.cp.Committee(ctx, epoch)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := range c.committees {
		if e+2 < epoch {
			delete(c.committees, e)
		}
	}
	c.committees[epoch] = cm
	return cm, nil
}

// step gives the shares, and proves the rounds, that the current epoch asks of the node, and
// proves its rounds of the previous epoch that are still pending (also when the node is no
// longer a member: it answers for the epoch in which it was one). It reports whether a round
// of the node's was open.
func (c *Challenges) step(ctx context.Context) (open bool, err error) {
	info, err := c.cp.Info(ctx)
	if err != nil {
		return false, err
	}
	if info.Params.ChallengeRounds == 0 {
		return false, nil
	}
	e := info.Epoch
	cm, err := c.committee(ctx, e)
	if err != nil {
		return false, err
	}
	me := -1
	for i, m := range cm.Members {
		if crypto.BLSPublicKey(m.BLSPublicKey) == c.pub {
			me = i
		}
	}
	h := &api.ChallengeHealth{Epoch: e, Rounds: []api.ChallengeRoundHealth{}}
	var errs []error
	var node cpapi.ObjectID
	var current []cpapi.ChallengeRound
	if me >= 0 {
		node = cm.Members[me].NodeID
		ep, err := c.cp.ChallengeEpoch(ctx, e)
		switch {
		case errors.Is(err, ErrNoChallenge):
		case err != nil:
			return false, err
		default:
			current = ep.Rounds
		}
		// The shares first: the round's seed waits for a quorum of them.
		for _, rd := range current {
			if mine := nodeIn(&rd, node); mine != nil && rd.Seed == nil && !mine.ShareSubmitted {
				if err := c.submitShare(ctx, e, rd.Round, node); err != nil {
					errs = append(errs, fmt.Errorf("seed share of round %d: %w", rd.Round, err))
				}
			}
		}
	}
	if e > 0 {
		// The previous epoch's outcome (this node may not have been a member). A round the node
		// had not passed when that epoch ended is pending: it may still answer it, until the
		// end of this epoch (a node that was down, wiped or behind when the epoch ended).
		if prev, err := c.cp.ChallengeEpoch(ctx, e-1); err == nil {
			pcm, err := c.committee(ctx, e-1)
			if err != nil {
				return false, err
			}
			pme := -1
			for i, m := range pcm.Members {
				if crypto.BLSPublicKey(m.BLSPublicKey) == c.pub {
					pme = i
				}
			}
			for _, rd := range prev.Rounds {
				if pme < 0 {
					break
				}
				mine := nodeIn(&rd, pcm.Members[pme].NodeID)
				if mine == nil {
					continue
				}
				if mine.Status == cpapi.ChallengeOpen {
					open = true
					if err := c.prove(ctx, pcm, pme, rd.Round); err != nil {
						errs = append(errs, fmt.Errorf("epoch %d round %d (pending): %w", e-1, rd.Round, err))
					}
				}
				h.Rounds = append(h.Rounds, roundHealth(&rd, mine))
			}
			if me < 0 && pme >= 0 {
				node = pcm.Members[pme].NodeID
			}
		}
	}
	for _, rd := range current {
		mine := nodeIn(&rd, node)
		if mine == nil {
			continue
		}
		if mine.Status == cpapi.ChallengeOpen {
			open = true
			if err := c.prove(ctx, cm, me, rd.Round); err != nil {
				errs = append(errs, fmt.Errorf("round %d: %w", rd.Round, err))
			}
		}
		h.Rounds = append(h.Rounds, roundHealth(&rd, mine))
	}
	if node != (cpapi.ObjectID{}) {
		if acc, err := c.cp.NodeAccountability(ctx, node); err == nil {
			h.RoundsPassed, h.RoundsFailed, h.RewardsWithheld, h.Slashed = acc.RoundsPassed, acc.RoundsFailed, acc.RewardsWithheld, acc.Slashed
			h.EpochsFailed, h.ConsecutiveFailedEpochs, h.RewardsEarned = acc.EpochsFailed, acc.ConsecutiveFailedEpochs, acc.RewardsEarned
			h.RoundsMissed, h.RewardsHeld, h.RewardsHeldPaid = acc.RoundsMissed, acc.RewardsHeld, acc.RewardsHeldPaid
		}
	}
	c.setHealth(h)
	err = errors.Join(errs...)
	c.setErr(err)
	return open, err
}

// nodeIn returns the node's challenge in round rd (nil if it is not a member).
func nodeIn(rd *cpapi.ChallengeRound, id cpapi.ObjectID) *cpapi.NodeChallenge {
	for i := range rd.Nodes {
		if rd.Nodes[i].NodeID == id {
			return &rd.Nodes[i]
		}
	}
	return nil
}

// roundHealth is the health route's view of a node's challenge in a round.
func roundHealth(rd *cpapi.ChallengeRound, nc *cpapi.NodeChallenge) api.ChallengeRoundHealth {
	samples := 0
	if rd.Seed != nil && rd.EligibleBlobs > 0 {
		samples = rd.SamplesPerNode
	}
	return api.ChallengeRoundHealth{Epoch: rd.Epoch, Round: rd.Round, Status: string(nc.Status), Samples: samples,
		PassWeight: nc.PassWeight, FailWeight: nc.FailWeight}
}

func (c *Challenges) setHealth(h *api.ChallengeHealth) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.health = h
	for k := range c.rounds {
		if k.epoch+1 < h.Epoch { // a round of the last epoch may be pending
			delete(c.rounds, k)
		}
	}
	for k := range c.failSent {
		if k.epoch+1 < h.Epoch {
			delete(c.failSent, k)
		}
	}
}

// Health returns the node's part in the current epoch's challenges (nil before it knows).
func (c *Challenges) Health() *api.ChallengeHealth {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.health == nil {
		return nil
	}
	h := *c.health
	h.Rounds = append([]api.ChallengeRoundHealth(nil), c.health.Rounds...)
	h.LastError = c.lastErr
	h.AnswersSent = c.answersSent.Load()
	h.AttestationsPassed = c.attested[1].Load()
	h.AttestationsFailed = c.attested[0].Load()
	return &h
}

// submitShare puts the node's seed share of round (epoch, round) on the control plane.
func (c *Challenges) submitShare(ctx context.Context, epoch, round uint32, node cpapi.ObjectID) error {
	share := protocol.SignChallengeSeedShare(c.key, epoch, round)
	err := c.submit(ctx, cpapi.Op{ChallengeShare: &cpapi.ChallengeShareOp{Epoch: epoch, Round: round, NodeID: node,
		Share: cpapi.BLSSignature(share)}})
	if err == nil {
		c.log.Info("storage challenge: seed share given", "epoch", epoch, "round", round)
	}
	return err
}

// samplesOf converts the control plane's samples.
func samplesOf(nc *cpapi.NodeChallenge) ([]challenge.Sample, error) {
	out := make([]challenge.Sample, len(nc.Samples))
	for i, s := range nc.Samples {
		a, err := blob.ParseAxis(s.Axis)
		if err != nil {
			return nil, fmt.Errorf("sample %d: %w", i, err)
		}
		out[i] = challenge.Sample{BlobID: s.BlobID, Shard: s.Shard, Axis: a, Symbol: s.Symbol}
	}
	return out, nil
}

// prove answers the node's samples of a round and collects the attestations that make it pass.
func (c *Challenges) prove(ctx context.Context, cm *cpapi.Committee, me int, round uint32) error {
	e, node := cm.Epoch, cm.Members[me].NodeID
	nc, err := c.cp.NodeChallenge(ctx, e, round, node)
	if err != nil {
		return err
	}
	if nc.Status != cpapi.ChallengeOpen {
		return nil
	}
	samples, err := samplesOf(nc)
	if err != nil {
		return err
	}
	start := time.Now()
	ans, err := c.answer(ctx, e, round, protocol.ObjectID(node), samples)
	if err != nil {
		if errors.Is(err, errIncomplete) {
			c.m.answers.WithLabelValues("incomplete").Inc()
		}
		return err
	}
	if err := ans.Sign(c.key); err != nil {
		return err
	}
	body, err := ans.Marshal()
	if err != nil {
		return err
	}
	c.m.proveSeconds.Observe(time.Since(start).Seconds())
	missing := 0
	for _, en := range ans.Entries {
		if en.Status == challenge.Missing {
			missing++
		}
	}
	if missing > 0 {
		c.log.Warn("storage challenge: answering with samples the node cannot prove", "epoch", e, "round", round, "missing", missing)
	}
	want := protocol.ChallengeAttestation{Epoch: e, Round: round, Node: protocol.ObjectID(node), Passed: true}
	msg := want.Encode()

	k := roundKey{e, round}
	c.mu.Lock()
	st := c.rounds[k]
	if st == nil {
		st = &proverRound{sigs: map[int]crypto.BLSSignature{}}
		c.rounds[k] = st
	}
	c.mu.Unlock()
	if _, ok := st.sigs[me]; !ok && missing == 0 {
		// The node checked every proof of its answer (BlobProver.Prove verifies each).
		st.sigs[me] = c.key.Sign(msg)
		st.weight += len(cm.Members[me].Shards)
	}
	var tasks []fanout.Task
	for i, m := range cm.Members {
		if _, ok := st.sigs[i]; !ok && i != me && len(m.Shards) > 0 {
			tasks = append(tasks, fanout.Task{Node: i, Key: i, Weight: len(m.Shards)})
		}
	}
	type verdict struct {
		att protocol.ChallengeAttestation
		sig crypto.BLSSignature
	}
	job := fanout.Start(ctx, fanout.Config{Nodes: len(cm.Members), Limit: c.cfg.RecoveryFetches}, tasks,
		func(ctx context.Context, i int, _ []fanout.Task) (verdict, error) {
			peer, err := c.peer(&cm.Members[i])
			if err != nil {
				return verdict{}, err
			}
			att, sig, err := peer.ChallengeAnswer(ctx, body, want)
			return verdict{att, sig}, err
		})
	defer job.Stop()
	c.m.answers.WithLabelValues("sent").Inc()
	c.answersSent.Add(1)
	var errs []error
	for !protocol.Quorum.Reached(st.weight, cm.NShards) {
		res, err := job.Next(time.Time{})
		if err != nil {
			break
		}
		c.m.bytes.WithLabelValues("sent").Add(float64(len(body)))
		switch {
		case res.Err != nil:
			errs = append(errs, res.Err)
		case !res.Value.att.Passed:
			errs = append(errs, fmt.Errorf("member %s attests that the answer fails", cm.Members[res.Node].Name))
		default:
			st.sigs[res.Node] = res.Value.sig
			st.weight += len(cm.Members[res.Node].Shards)
		}
	}
	job.Stop()
	if !protocol.Quorum.Reached(st.weight, cm.NShards) {
		return fmt.Errorf("pass attestations cover %d of %d shards: %w", st.weight, cm.NShards, errors.Join(errs...))
	}
	signers := make([]int, 0, len(st.sigs))
	list := make([]crypto.BLSSignature, 0, len(st.sigs))
	for i := range cm.Members {
		if sig, ok := st.sigs[i]; ok {
			signers = append(signers, i)
			list = append(list, sig)
		}
	}
	agg, err := crypto.AggregateSignatures(list)
	if err != nil {
		return err
	}
	bm, err := protocol.Bitmap(len(cm.Members), signers)
	if err != nil {
		return err
	}
	cert := cpapi.Certificate{Signers: bm, Message: msg, Signature: cpapi.BLSSignature(agg)}
	if err := c.submit(ctx, cpapi.Op{ChallengeCertificate: &cpapi.ChallengeCertificateOp{Certificate: cert}}); err != nil {
		return fmt.Errorf("submitting the pass certificate: %w", err)
	}
	c.m.answers.WithLabelValues("certified").Inc()
	c.log.Info("storage challenge passed", "epoch", e, "round", round, "samples", len(samples), "signers", len(signers),
		"shards", st.weight, "answer_bytes", len(body))
	return nil
}

// answer builds the node's answer to samples: a proof for each sample it holds, an excuse for
// a blob the control plane no longer has certified, and (with recovery disabled only) an
// admission for what it cannot prove. It returns errIncomplete while it lacks a sampled sliver
// that its recovery has not rebuilt yet (it does not recover samples on demand: see cannot).
func (c *Challenges) answer(ctx context.Context, e, round uint32, node protocol.ObjectID, samples []challenge.Sample) (*challenge.Answer, error) {
	v, err := c.currentView()
	if err != nil {
		return nil, err
	}
	if v.epoch != e && v.epoch != e+1 {
		// A round is answered in its epoch, or in the next one if it was pending when its
		// epoch ended (the view's encoder and metadata serve both: n does not change).
		return nil, fmt.Errorf("%w: the node's committee view is of epoch %d, the challenge of %d", errIncomplete, v.epoch, e)
	}
	ans := &challenge.Answer{Epoch: e, Round: round, Node: node, Entries: make([]challenge.Entry, len(samples))}
	type sliverKey struct {
		id    blob.ID
		shard uint16
		axis  redstuff.Axis
	}
	groups := map[sliverKey][]int{}
	var order []sliverKey
	for i, s := range samples {
		k := sliverKey{s.BlobID, s.Shard, s.Axis}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	provers := map[blob.ID]*challenge.BlobProver{}
	incomplete := 0
	setAll := func(idx []int, st challenge.Status) {
		for _, i := range idx {
			ans.Entries[i] = challenge.Entry{Status: st}
		}
	}
	// cannot handles a sampled sliver the node cannot prove: an excuse if the blob is no
	// longer certified, or if the round is of the previous epoch and the shard has moved to
	// another node since (the node deleted it after the epoch change: the new owner answers
	// for it now), else no answer yet (or, without recovery, an admission).
	cannot := func(k sliverKey, idx []int) error {
		excused, err := c.excused(ctx, k.id)
		if err != nil {
			return err
		}
		switch {
		case excused, v.epoch > e && !v.owned[k.shard]:
			setAll(idx, challenge.Excused)
		case c.cfg.DisableRecovery:
			setAll(idx, challenge.Missing)
		default:
			// The node does not recover what it is asked for on demand: a node that dropped
			// the sliver could do the same, so an answer must come from what it held. Its
			// recovery (events, sweeps) rebuilds the sliver in its own order; until then the
			// node does not answer, and if the round ends so it has missed it (its reward is
			// held until it passes a whole epoch's rounds again).
			incomplete++
		}
		return nil
	}
	for _, k := range order {
		idx := groups[k]
		sl, raw, err := c.storedSliver(ctx, k.shard, k.id, k.axis)
		if err != nil {
			if errors.Is(err, nodestore.ErrCorrupt) {
				c.quarantineRead(ctx, nodestore.SliverRef{Shard: k.shard, BlobID: k.id, Axis: k.axis}, raw, err)
			} else if !errors.Is(err, nodestore.ErrNotFound) {
				return nil, err
			}
			if err := cannot(k, idx); err != nil {
				return nil, err
			}
			continue
		}
		bp := provers[k.id]
		if bp == nil {
			md, err := c.ensureMetadata(ctx, k.id, v)
			if err != nil {
				return nil, err
			}
			if bp, err = challenge.NewBlobProver(v.enc, md); err != nil {
				return nil, err
			}
			provers[k.id] = bp
		}
		group := make([]challenge.Sample, len(idx))
		for j, i := range idx {
			group[j] = samples[i]
		}
		entries, err := bp.Prove(sl, group)
		if err != nil {
			// The stored sliver does not prove its samples: it is corrupt.
			c.quarantineRead(ctx, nodestore.SliverRef{Shard: k.shard, BlobID: k.id, Axis: k.axis}, raw, err)
			if err := cannot(k, idx); err != nil {
				return nil, err
			}
			continue
		}
		for j, i := range idx {
			ans.Entries[i] = entries[j]
		}
	}
	if incomplete > 0 {
		return nil, fmt.Errorf("%w: %d sampled slivers not rebuilt yet", errIncomplete, incomplete)
	}
	return ans, nil
}

// excused reports whether the control plane no longer has blob id certified (deleted, or
// marked invalid), so that a sample of it need not be proven. Samples are drawn from blobs
// certified and live through the round's epoch, so within it only a deletion or an
// invalidation takes one out.
func (c *core) excused(ctx context.Context, id blob.ID) (bool, error) {
	st, err := c.cp.BlobStatus(ctx, id)
	if err != nil {
		return false, err
	}
	switch {
	case st.Status == cpapi.StatusInvalid:
		return true, nil
	case st.Status == cpapi.StatusPermanent && st.IsCertified:
		return false, nil
	case st.DeletableCounts.Certified > 0:
		return false, nil
	}
	return true, nil
}

// submit signs op with the node's account key and submits it (see Inconsistency.submit).
func (c *Challenges) submit(ctx context.Context, op cpapi.Op) error {
	return (&Inconsistency{core: c.core}).submit(ctx, op)
}
