package controlplane

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"golang.org/x/crypto/blake2b"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/challenge"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
)

// Storage challenges: the control plane's half of the protocol that package
// internal/challenge describes (with the arithmetic of detection and what the seed's bias
// allows).
//
//   - A round opens at the first block of every epoch, and Params.ChallengeRounds-1 more
//     times at equal intervals in it. Each member of the epoch's committee gets a record
//     (NodeChallenge) awaiting the seed.
//   - ChallengeShareOp records a member's seed share (its BLS signature over the round's
//     ChallengeSeedShare message, one fixed value per member and round). At the end of the
//     first block in which the members with shares hold a quorum of the shards, the seed is
//     Blake2b-256 over those shares in committee order; the blobs certified, live through the
//     epoch and not invalid are listed in blob ID order, and each member's samples are drawn
//     with challenge.Draw and kept in its record.
//   - ChallengeCertificateOp adds attestations over ChallengeAttestation messages. Signers
//     accumulate per verdict (each member counted once): pass attestations of a quorum of the
//     shards make the member pass, fail attestations of a validity threshold make it fail;
//     the first threshold reached decides.
//   - Samples are drawn only from the shards a member held in the epoch before too
//     (keptShards): a shard gained at the epoch change is being pulled from its previous owner
//     during the epoch, so an honest node may not hold it yet; it is challenged from the next
//     epoch on. A member whose every shard is new is void in the round.
//   - When the epoch ends (settleChallenges), rounds whose seed was never fixed are void, and a
//     member still challenged is pending: it may still answer, and be attested, through the
//     whole next epoch (an honest node that was down, wiped and recovering, or behind on
//     events when the epoch ended must not lose its reward for that), and its share of the
//     epoch's rewards is held meanwhile (EpochResult.RewardHeld). When the next epoch ends
//     (settleLate), what is still challenged has missed the round.
//   - A fail certificate is attributable: a validity threshold of attestations, so at least one
//     correct member, over an answer the node signed that fails. A member with one in an
//     epoch has failed the epoch: its whole share of the epoch's rewards (its commission and
//     its stakers' part) is burnt, not paid (challengeWithholdReward); burning rather than
//     giving it to the other members leaves nobody a reason to make a peer fail, and keeps an
//     honest node's reward independent of others' faults. A member that failed
//     SlashAfterFailedEpochs epochs in a row loses SlashBasisPoints of every stake active with
//     it (burnt too), is marked to be left out of the committee chosen at this epoch change
//     (challengeExcluded) and its count starts again.
//   - A miss is not attributable: the node, or enough of its verifiers, may have been down or
//     overloaded for two epochs, its answer lost, or it was still rebuilding its data after a
//     wipe (it does not recover sampled slivers on demand: a node that dropped data could do
//     the same, so passing must show the node held the data). A miss counts towards no
//     slashing and no exclusion (a 30-minute chaos run on an overloaded machine showed why:
//     misses of honest nodes slashed and excluded them, shards moved every few epochs, and
//     data was lost in the moves), and the epoch's reward is neither paid nor burnt but held
//     (Accountability.MissedHeld, holdMissed): all the held rewards are paid when an epoch of
//     the node settles with every round passed (none failed, missed or pending; void rounds
//     aside), burnt with the epoch's own when it fails an epoch, and burnt one by one once
//     held for missedHoldEpochs (a node that never passes again earns nothing). So an honest
//     node that misses while it rebuilds loses nothing once it passes again, and a node that
//     lacks data and stays silent is never paid. A node that missed the rounds of
//     ExcludeAfterMissedEpochs epochs in a row (missedHoldEpochs by default: far longer than a
//     rebuild) is left out of the next committee, not slashed (missEpoch): it keeps no shards
//     the network cannot count on.
//   - Exclusions are capped (capExclusions): at one epoch change the excluded members hold
//     less than a third of the shards, and at least MinCommitteeSize members remain, so
//     slashing can never collapse the committee.
//   - Records of an epoch are kept through the next one (for the late answers, the explorer
//     and `floe node info`), then removed; the samples are dropped once a challenge is
//     decided. Each node keeps an Accountability record (totals and its latest epochs), and
//     ChallengeTotals the burnt amounts.
//
// The shares and certificates are sent by storage nodes from accounts that may hold nothing
// (like blob certificates); admission accepts them when they verify against the committee and
// change something, so they cost no tokens and cannot be replayed to fill blocks.

// DefaultChallengeSamples is the default number of samples per node per round (see the
// arithmetic in package internal/challenge).
const DefaultChallengeSamples = 100

// maxChallengeRounds bounds Params.ChallengeRounds.
const maxChallengeRounds = 100

// keptEpochResults is how many of a node's latest epochs its Accountability record keeps.
const keptEpochResults = 8

// missedHoldEpochs is how many epochs the reward of an epoch with a missed round is held for
// the node's next pass: long enough for a wiped node to rebuild what it stored on an
// overloaded machine (a 5-minute chaos run's wiped node took 18 epochs of 30 s).
const missedHoldEpochs = 64

// ChallengeStatus is where a member stands in a round (the wire's ChallengeStatus values).
type ChallengeStatus string

// Challenge statuses (api/controlplane documents them).
const (
	ChallengeAwaitingSeed ChallengeStatus = "awaiting_seed"
	ChallengeOpen         ChallengeStatus = "challenged"
	ChallengePassed       ChallengeStatus = "passed"
	ChallengeFailed       ChallengeStatus = "failed"
	ChallengeMissed       ChallengeStatus = "missed"
	ChallengeVoid         ChallengeStatus = "void"
)

// ChallengeRound is a round of an epoch.
type ChallengeRound struct {
	Epoch        uint32 `json:"epoch"`
	Round        uint32 `json:"round"`
	OpenedMs     int64  `json:"opened_ms"`
	OpenedHeight uint64 `json:"opened_height"`
	ShareWeight  int    `json:"share_weight"`
	Seed         Hash   `json:"seed,omitzero"`
	SeedHeight   uint64 `json:"seed_height,omitempty"`
	Eligible     int    `json:"eligible,omitempty"`
}

// NodeChallenge is a committee member's challenge in a round.
type NodeChallenge struct {
	Epoch  uint32              `json:"epoch"`
	Round  uint32              `json:"round"`
	NodeID ObjectID            `json:"node_id"`
	Share  crypto.BLSSignature `json:"share,omitzero"`
	// Samples are challenge.Pack's encoding, kept while the node is challenged.
	Samples       []byte          `json:"samples,omitempty"`
	Status        ChallengeStatus `json:"status"`
	PassSigners   []byte          `json:"pass_signers,omitempty"`
	FailSigners   []byte          `json:"fail_signers,omitempty"`
	PassWeight    int             `json:"pass_weight,omitempty"`
	FailWeight    int             `json:"fail_weight,omitempty"`
	DecidedHeight uint64          `json:"decided_height,omitempty"`
}

// EpochResult is a node's challenge record for one settled epoch.
type EpochResult struct {
	Epoch        uint32 `json:"epoch"`
	RoundsPassed int    `json:"rounds_passed,omitempty"`
	RoundsFailed int    `json:"rounds_failed,omitempty"`
	RoundsVoid   int    `json:"rounds_void,omitempty"`
	// RoundsMissed are rounds still undecided when the grace epoch ended: the node proved
	// nothing, so it is not paid for the epoch, but nothing attributes a fault to it (it may
	// have been down, or its verifiers), so a miss never counts towards slashing.
	RoundsMissed int `json:"rounds_missed,omitempty"`
	// RoundsPending are rounds still challenged when the epoch ended: the node may answer them
	// until the next epoch ends (settleLate), and RewardHeld is its share of the epoch's
	// rewards, held until then.
	RoundsPending  int    `json:"rounds_pending,omitempty"`
	RewardHeld     uint64 `json:"reward_held,omitempty"`
	Failed         bool   `json:"failed,omitempty"`
	Reward         uint64 `json:"reward,omitempty"`
	RewardWithheld uint64 `json:"reward_withheld,omitempty"`
	Slashed        uint64 `json:"slashed,omitempty"`
	Excluded       bool   `json:"excluded,omitempty"`
}

// Accountability is a node's challenge record since genesis.
type Accountability struct {
	NodeID            ObjectID `json:"node_id"`
	RoundsPassed      uint64   `json:"rounds_passed"`
	RoundsFailed      uint64   `json:"rounds_failed"`
	RoundsMissed      uint64   `json:"rounds_missed,omitempty"`
	EpochsFailed      uint64   `json:"epochs_failed"`
	ConsecutiveFailed uint32   `json:"consecutive_failed"`
	// ConsecutiveMissed counts the epochs in a row in which the node missed its rounds (final
	// after the grace epoch) and passed or failed none, towards ExcludeAfterMissedEpochs.
	ConsecutiveMissed uint32        `json:"consecutive_missed,omitempty"`
	RewardsEarned     uint64        `json:"rewards_earned"`
	RewardsWithheld   uint64        `json:"rewards_withheld"`
	Slashed           uint64        `json:"slashed"`
	Slashings         uint32        `json:"slashings,omitempty"`
	ExcludedEpoch     uint32        `json:"excluded_epoch,omitempty"`
	Recent            []EpochResult `json:"recent,omitempty"`
	// MissedHeld are the rewards of epochs in which the node missed a round, oldest first,
	// held until it has an epoch whose rounds it all passed (releaseMissed pays them), fails a
	// round (failEpoch burns them) or for missedHoldEpochs (expireMissed burns them). HeldPaid
	// is what releaseMissed paid since genesis.
	MissedHeld []HeldReward `json:"missed_held,omitempty"`
	HeldPaid   uint64       `json:"held_paid,omitempty"`
}

// HeldReward is a node's reward of an epoch it missed a round in, held.
type HeldReward struct {
	Epoch  uint32 `json:"epoch"`
	Amount uint64 `json:"amount"`
}

// ChallengeTotals are the amounts challenges burnt since genesis.
type ChallengeTotals struct {
	RewardsBurnt uint64 `json:"rewards_burnt"`
	StakeSlashed uint64 `json:"stake_slashed"`
}

// challengeData is the challenges' part of the hashed state (embedded in data).
type challengeData struct {
	Rounds          map[uint64]*ChallengeRound   `json:"challenge_rounds,omitempty"`
	Challenges      map[Hash]*NodeChallenge      `json:"challenges,omitempty"`
	Accountability  map[ObjectID]*Accountability `json:"accountability,omitempty"`
	ChallengeTotals *ChallengeTotals             `json:"challenge_totals,omitempty"`
}

func (d *data) initChallenges() {
	if d.Rounds == nil {
		d.Rounds = map[uint64]*ChallengeRound{}
	}
	if d.Challenges == nil {
		d.Challenges = map[Hash]*NodeChallenge{}
	}
	if d.Accountability == nil {
		d.Accountability = map[ObjectID]*Accountability{}
	}
}

func (p Params) validateChallenges() error {
	switch {
	case p.ChallengeRounds < 0 || p.ChallengeRounds > maxChallengeRounds:
		return fmt.Errorf("%w: challenge rounds %d outside 0..%d", ErrGenesis, p.ChallengeRounds, maxChallengeRounds)
	case p.ChallengeRounds > 0 && int64(p.ChallengeRounds) > p.EpochDurationMs:
		return fmt.Errorf("%w: %d challenge rounds in a %d ms epoch", ErrGenesis, p.ChallengeRounds, p.EpochDurationMs)
	case p.ChallengeRounds > 0 && (p.ChallengeSamples < 1 || p.ChallengeSamples > challenge.MaxEntries):
		return fmt.Errorf("%w: challenge samples %d outside 1..%d", ErrGenesis, p.ChallengeSamples, challenge.MaxEntries)
	case p.SlashBasisPoints > 10000:
		return fmt.Errorf("%w: slash of %d basis points above 10000", ErrGenesis, p.SlashBasisPoints)
	}
	return nil
}

// roundID is the map key of round (e, r).
func roundID(e, r uint32) uint64 { return uint64(e)<<32 | uint64(r) }

func roundLeafKey(e, r uint32) leafKey {
	var k leafKey
	k[0] = tableChallengeRound
	binary.LittleEndian.PutUint32(k[1:], e)
	binary.LittleEndian.PutUint32(k[5:], r)
	return k
}

// challengeID is the key of node's challenge in round (e, r):
// Blake2b-256("floe-challenge" || u32 e || u32 r || node).
func challengeID(e, r uint32, node ObjectID) Hash {
	b := make([]byte, 0, 14+8+32)
	b = append(b, "floe-challenge"...)
	b = binary.LittleEndian.AppendUint32(b, e)
	b = binary.LittleEndian.AppendUint32(b, r)
	b = append(b, node[:]...)
	return Hash(blake2b.Sum256(b))
}

func (s *State) touchRound(e, r uint32) { s.touch(roundLeafKey(e, r)) }

func (s *State) touchChallenge(id Hash) { s.touchID(tableChallenge, id) }

// challengeRecord returns the record under a challenge table's key (nil if there is none).
func (s *State) challengeRecord(k leafKey) any {
	var id [32]byte
	copy(id[:], k[1:])
	switch k[0] {
	case tableChallengeRound:
		if r := s.d.Rounds[roundID(binary.LittleEndian.Uint32(id[0:]), binary.LittleEndian.Uint32(id[4:]))]; r != nil {
			return r
		}
	case tableChallenge:
		if c := s.d.Challenges[Hash(id)]; c != nil {
			return c
		}
	case tableAccountability:
		if a := s.d.Accountability[ObjectID(id)]; a != nil {
			return a
		}
	case tableChallengeTotals:
		if s.d.ChallengeTotals != nil {
			return s.d.ChallengeTotals
		}
	}
	return nil
}

// appendChallengeKeys appends the key of every challenge record.
func (s *State) appendChallengeKeys(ks []leafKey) []leafKey {
	for id, r := range s.d.Rounds {
		if r.Epoch != uint32(id>>32) || r.Round != uint32(id) {
			panic("controlplane: challenge round stored under another round's key")
		}
		ks = append(ks, roundLeafKey(r.Epoch, r.Round))
	}
	for id := range s.d.Challenges {
		ks = append(ks, key32(tableChallenge, id))
	}
	for id := range s.d.Accountability {
		ks = append(ks, key32(tableAccountability, id))
	}
	if s.d.ChallengeTotals != nil {
		ks = append(ks, key32(tableChallengeTotals, [32]byte{}))
	}
	return ks
}

// roundOpensAt returns the block time at which round r of the current epoch opens.
func (s *State) roundOpensAt(r int) int64 {
	return s.d.EpochStart + s.d.Params.EpochDurationMs*int64(r)/int64(s.d.Params.ChallengeRounds)
}

// NextDueMs returns the block time at which the state next has something to do without a
// transaction (an epoch change, or a challenge round to open): a driver that makes blocks only
// for transactions makes an empty block then.
func (s *State) NextDueMs() int64 {
	next := s.epochDueMs()
	if c := s.d.Committees[s.d.Epoch]; c == nil || len(c.Members) == 0 {
		return next
	}
	for r := 0; r < s.d.Params.ChallengeRounds; r++ {
		if s.d.Rounds[roundID(s.d.Epoch, uint32(r))] == nil {
			return min(next, s.roundOpensAt(r))
		}
	}
	return next
}

// challengeBlockBegin opens the rounds of the current epoch that are due at block time ms.
func (s *State) challengeBlockBegin(ms int64) {
	c := s.d.Committees[s.d.Epoch]
	if s.d.Params.ChallengeRounds == 0 || c == nil || len(c.Members) == 0 {
		return
	}
	for r := 0; r < s.d.Params.ChallengeRounds; r++ {
		if s.roundOpensAt(r) > ms {
			break
		}
		if s.d.Rounds[roundID(s.d.Epoch, uint32(r))] == nil {
			s.openRound(c, uint32(r), ms)
		}
	}
}

func (s *State) openRound(c *Committee, r uint32, ms int64) {
	e := c.Epoch
	s.touchRound(e, r)
	s.d.Rounds[roundID(e, r)] = &ChallengeRound{Epoch: e, Round: r, OpenedMs: ms, OpenedHeight: s.d.Height}
	for _, m := range c.Members {
		id := challengeID(e, r, m.NodeID)
		s.touchChallenge(id)
		s.d.Challenges[id] = &NodeChallenge{Epoch: e, Round: r, NodeID: m.NodeID, Status: ChallengeAwaitingSeed}
	}
	s.emit(Event{Type: EventChallengeRoundOpened, Epoch: e, Round: r})
}

// checkChallengeShare validates a seed share against the state (admission and execution):
// the round of the current epoch is open and awaits its seed, the node is a member that has
// not given its share, and the share verifies under the member's key.
func (s *State) checkChallengeShare(op *ChallengeShareOp) (*ChallengeRound, *NodeChallenge, error) {
	if op.Epoch != s.d.Epoch {
		return nil, nil, fmt.Errorf("%w: share for epoch %d, current %d", ErrWrongEpoch, op.Epoch, s.d.Epoch)
	}
	rd := s.d.Rounds[roundID(op.Epoch, op.Round)]
	if rd == nil {
		return nil, nil, fmt.Errorf("%w: round %d of epoch %d is not open", ErrChallenge, op.Round, op.Epoch)
	}
	if rd.Seed != (Hash{}) {
		return nil, nil, fmt.Errorf("%w: the seed of round %d is already fixed", ErrChallenge, op.Round)
	}
	nc := s.d.Challenges[challengeID(op.Epoch, op.Round, op.NodeID)]
	c := s.d.Committees[op.Epoch]
	if nc == nil || c == nil || c.MemberIndex(op.NodeID) < 0 {
		return nil, nil, fmt.Errorf("%w: node %s is not a member of epoch %d", ErrChallenge, op.NodeID, op.Epoch)
	}
	if nc.Share != (crypto.BLSSignature{}) {
		return nil, nil, fmt.Errorf("%w: node %s already gave its share", ErrChallenge, op.NodeID)
	}
	m := c.Members[c.MemberIndex(op.NodeID)]
	if err := protocol.VerifyChallengeSeedShare(m.BLSPublicKey, op.Epoch, op.Round, op.Share); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrChallenge, err)
	}
	return rd, nc, nil
}

func (s *State) challengeShare(op *ChallengeShareOp) error {
	rd, nc, err := s.checkChallengeShare(op)
	if err != nil {
		return err
	}
	c := s.d.Committees[op.Epoch]
	s.touchRound(rd.Epoch, rd.Round)
	s.touchChallenge(challengeID(op.Epoch, op.Round, op.NodeID))
	nc.Share = op.Share
	rd.ShareWeight += len(c.ShardsOf(op.NodeID))
	return nil
}

// challengeBlockEnd fixes the seed of every round of the current epoch whose recorded shares
// reached a quorum in this block.
func (s *State) challengeBlockEnd() {
	c := s.d.Committees[s.d.Epoch]
	if c == nil {
		return
	}
	for r := 0; r < s.d.Params.ChallengeRounds; r++ {
		rd := s.d.Rounds[roundID(s.d.Epoch, uint32(r))]
		if rd != nil && rd.Seed == (Hash{}) && protocol.Quorum.Reached(rd.ShareWeight, c.NShards) {
			s.fixSeed(c, rd)
		}
	}
}

// seedDomain separates the seed's hash from every other Blake2b use.
const seedDomain = "floe-challenge-seed-v1"

func (s *State) fixSeed(c *Committee, rd *ChallengeRound) {
	b := append([]byte(seedDomain), binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, rd.Epoch), rd.Round)...)
	for i, m := range c.Members {
		if nc := s.d.Challenges[challengeID(rd.Epoch, rd.Round, m.NodeID)]; nc != nil && nc.Share != (crypto.BLSSignature{}) {
			b = binary.LittleEndian.AppendUint16(b, uint16(i))
			b = append(b, nc.Share[:]...)
		}
	}
	seed := Hash(blake2b.Sum256(b))
	eligible := s.eligibleBlobs(rd.Epoch)
	s.touchRound(rd.Epoch, rd.Round)
	rd.Seed, rd.SeedHeight, rd.Eligible = seed, s.d.Height, len(eligible)
	for _, m := range c.Members {
		id := challengeID(rd.Epoch, rd.Round, m.NodeID)
		nc := s.d.Challenges[id]
		if nc == nil {
			continue
		}
		s.touchChallenge(id)
		kept := s.keptShards(rd.Epoch, m)
		if len(kept) == 0 {
			// Every shard of the member is new to it this epoch (it may still be pulling them
			// from their previous owners): nothing to challenge yet.
			nc.Status, nc.DecidedHeight = ChallengeVoid, s.d.Height
			continue
		}
		samples := challenge.Draw(seed, m.NodeID, s.d.Params.ChallengeSamples, eligible, kept, c.NShards)
		if len(samples) == 0 {
			// Nothing to prove: no blob was certified yet.
			nc.Status, nc.DecidedHeight = ChallengePassed, s.d.Height
			continue
		}
		nc.Samples = challenge.Pack(samples)
		nc.Status = ChallengeOpen
	}
	s.emit(Event{Type: EventChallengeSeedFixed, Epoch: rd.Epoch, Round: rd.Round, Amount: uint64(len(eligible))})
}

// keptShards returns the shards member m of epoch e's committee held in epoch e-1's committee
// too: the shards its samples are drawn from. A shard it gained at the change to e is being
// pulled from its previous owner (or recovered) during e, so an honest node may not hold it
// yet; it is challenged from the next epoch on. At genesis (no committee before) every shard
// is kept.
func (s *State) keptShards(e uint32, m Member) []uint16 {
	if e == 0 || s.d.Committees[e-1] == nil || len(s.d.Committees[e-1].Members) == 0 {
		return m.Shards
	}
	prev := s.d.Committees[e-1]
	i := prev.MemberIndex(m.NodeID)
	if i < 0 {
		return nil
	}
	had := map[uint16]bool{}
	for _, sh := range prev.Members[i].Shards {
		had[sh] = true
	}
	var out []uint16
	for _, sh := range m.Shards {
		if had[sh] {
			out = append(out, sh)
		}
	}
	return out
}

// eligibleBlobs returns, sorted, the blob IDs with a certified object live through epoch e
// that are not marked invalid: what a round samples. It walks the blob-ID index once per
// round (O(B log B) for B blob IDs).
func (s *State) eligibleBlobs(e uint32) []blob.ID {
	out := make([]blob.ID, 0, len(s.byBlobID))
	for bid, objs := range s.byBlobID {
		if _, bad := s.d.Invalid[bid]; bad {
			continue
		}
		for id := range objs {
			if b := s.d.Blobs[id]; b != nil && b.Certified && b.Storage.End > e {
				out = append(out, bid)
				break
			}
		}
	}
	slices.SortFunc(out, func(a, b blob.ID) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// attestationTarget is what a challenge certificate attests to.
type attestationTarget struct {
	att     protocol.ChallengeAttestation
	nc      *NodeChallenge
	id      Hash
	signers []int // the certificate's signers not yet recorded for its verdict
}

// checkChallengeCertificate validates attestations against the state (admission and
// execution): an attestation of the current epoch for a challenged member, signed by members
// of whom at least one is not yet recorded for that verdict.
func (s *State) checkChallengeCertificate(cert *protocol.Certificate) (*attestationTarget, error) {
	att, err := protocol.DecodeChallengeAttestation(cert.Message)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWrongMessage, err)
	}
	// A challenge of the previous epoch is still open if it was pending when that epoch ended.
	if att.Epoch != s.d.Epoch && (s.d.Epoch == 0 || att.Epoch != s.d.Epoch-1) {
		return nil, fmt.Errorf("%w: %d, current %d", ErrWrongEpoch, att.Epoch, s.d.Epoch)
	}
	id := challengeID(att.Epoch, att.Round, ObjectID(att.Node))
	nc := s.d.Challenges[id]
	if nc == nil {
		return nil, fmt.Errorf("%w: no challenge of node %s in round %d", ErrChallenge, att.Node, att.Round)
	}
	if nc.Status != ChallengeOpen {
		return nil, fmt.Errorf("%w: node %s is %s in round %d", ErrChallenge, att.Node, nc.Status, att.Round)
	}
	c := s.d.Committees[att.Epoch]
	if c == nil {
		return nil, fmt.Errorf("%w: no committee of epoch %d", ErrChallenge, att.Epoch)
	}
	idx, err := cert.VerifySigners(c.ProtocolMembers())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCertificate, err)
	}
	have := nc.FailSigners
	if att.Passed {
		have = nc.PassSigners
	}
	t := &attestationTarget{att: att, nc: nc, id: id}
	for _, i := range idx {
		if i/8 >= len(have) || have[i/8]&(1<<(i%8)) == 0 {
			t.signers = append(t.signers, i)
		}
	}
	if len(t.signers) == 0 {
		return nil, fmt.Errorf("%w: every signer is already recorded", ErrChallenge)
	}
	return t, nil
}

func (s *State) challengeCertificate(op *ChallengeCertificateOp) error {
	t, err := s.checkChallengeCertificate(&op.Certificate)
	if err != nil {
		return err
	}
	c := s.d.Committees[t.att.Epoch]
	nc := t.nc
	s.touchChallenge(t.id)
	bits, weight := &nc.FailSigners, &nc.FailWeight
	if t.att.Passed {
		bits, weight = &nc.PassSigners, &nc.PassWeight
	}
	if len(*bits) < (len(c.Members)+7)/8 {
		*bits = append(*bits, make([]byte, (len(c.Members)+7)/8-len(*bits))...)
	}
	for _, i := range t.signers {
		(*bits)[i/8] |= 1 << (i % 8)
		*weight += len(c.Members[i].Shards)
	}
	if !t.att.Threshold().Reached(*weight, c.NShards) {
		return nil
	}
	nc.DecidedHeight, nc.Samples = s.d.Height, nil
	ev := Event{NodeID: nc.NodeID, Epoch: nc.Epoch, Round: nc.Round}
	if t.att.Passed {
		nc.Status, ev.Type = ChallengePassed, EventChallengePassed
	} else {
		nc.Status, ev.Type = ChallengeFailed, EventChallengeFailed
	}
	s.emit(ev)
	return nil
}

// accountability returns node's record for a change, creating it if needed.
func (s *State) accountability(node ObjectID) *Accountability {
	s.touchID(tableAccountability, node)
	a := s.d.Accountability[node]
	if a == nil {
		a = &Accountability{NodeID: node}
		s.d.Accountability[node] = a
	}
	return a
}

func (s *State) totals() *ChallengeTotals {
	s.touchID(tableChallengeTotals, [32]byte{})
	if s.d.ChallengeTotals == nil {
		s.d.ChallengeTotals = &ChallengeTotals{}
	}
	return s.d.ChallengeTotals
}

// result returns the node's record of epoch e, if any.
func (a *Accountability) result(e uint32) *EpochResult {
	if a == nil || len(a.Recent) == 0 || a.Recent[len(a.Recent)-1].Epoch != e {
		return nil
	}
	return &a.Recent[len(a.Recent)-1]
}

// settleChallenges closes epoch e's rounds when the epoch ends (changeEpoch calls it before
// paying e's rewards). First the rounds of the epoch before e, whose pending members had all of
// e to answer, are settled for good (settleLate). Then e's: rounds without a seed are void,
// members still challenged are pending (they may answer until e+1 ends); each member's record
// gets the epoch's result, and a member past the slashing threshold is slashed. Last, the
// exclusions from e+1's committee are capped (capExclusions). Records of the epoch before e
// are removed.
func (s *State) settleChallenges(e uint32) {
	defer s.pruneChallenges(e)
	var excluded []ObjectID
	if e > 0 {
		excluded = s.settleLate(e-1, e, excluded)
	}
	defer func() { s.capExclusions(e, excluded) }()
	c := s.d.Committees[e]
	if s.d.Params.ChallengeRounds == 0 || c == nil {
		return
	}
	results := make([]EpochResult, len(c.Members))
	opened := false
	for r := uint32(0); r < uint32(s.d.Params.ChallengeRounds); r++ {
		if s.d.Rounds[roundID(e, r)] == nil {
			continue
		}
		opened = true
		for i, m := range c.Members {
			id := challengeID(e, r, m.NodeID)
			nc := s.d.Challenges[id]
			if nc == nil {
				continue
			}
			s.touchChallenge(id)
			if nc.Status == ChallengeAwaitingSeed {
				nc.Status = ChallengeVoid
			}
			results[i].count(nc.Status)
		}
	}
	if !opened {
		return
	}
	for i, m := range c.Members {
		a := s.accountability(m.NodeID)
		results[i].Epoch = e
		a.Recent = append(a.Recent, results[i])
		if len(a.Recent) > keptEpochResults {
			a.Recent = append([]EpochResult(nil), a.Recent[len(a.Recent)-keptEpochResults:]...)
		}
		res := &a.Recent[len(a.Recent)-1]
		a.RoundsPassed += uint64(res.RoundsPassed)
		a.RoundsFailed += uint64(res.RoundsFailed)
		if res.RoundsFailed > 0 {
			if s.failEpoch(a, res, e) {
				excluded = append(excluded, m.NodeID)
			}
		} else if res.RoundsPassed > 0 && res.RoundsPending == 0 {
			a.ConsecutiveFailed = 0
			a.ConsecutiveMissed = 0
			s.releaseMissed(a)
		}
	}
	s.expireMissed(e)
}

// holdMissed holds amount, node's reward of epoch res.Epoch in which it missed a round, until
// it passes a round again.
func (s *State) holdMissed(a *Accountability, res *EpochResult, amount uint64) {
	if amount == 0 {
		return
	}
	res.RewardHeld = amount
	a.MissedHeld = append(a.MissedHeld, HeldReward{Epoch: res.Epoch, Amount: amount})
}

// releaseMissed pays the node's held rewards of missed epochs: it passed a round, so the
// misses were an outage (or a recovery), not a loss of data.
func (s *State) releaseMissed(a *Accountability) {
	for _, h := range a.MissedHeld {
		a.RewardsEarned += h.Amount
		a.HeldPaid += h.Amount
		for i := range a.Recent {
			if r := &a.Recent[i]; r.Epoch == h.Epoch {
				r.Reward += h.Amount
				r.RewardHeld = 0
			}
		}
		s.payNodeShare(a.NodeID, h.Epoch, h.Amount)
	}
	a.MissedHeld = nil
}

// burnMissed burns the node's held rewards of missed epochs, those of epochs before until or
// (until 0) all of them.
func (s *State) burnMissed(a *Accountability, until uint32) {
	kept := a.MissedHeld[:0]
	for _, h := range a.MissedHeld {
		if until != 0 && h.Epoch >= until {
			kept = append(kept, h)
			continue
		}
		a.RewardsWithheld += h.Amount
		s.totals().RewardsBurnt += h.Amount
		for i := range a.Recent {
			if r := &a.Recent[i]; r.Epoch == h.Epoch {
				r.RewardWithheld += h.Amount
				r.RewardHeld = 0
			}
		}
		s.emit(Event{Type: EventRewardWithheld, NodeID: a.NodeID, Epoch: h.Epoch, Amount: h.Amount})
	}
	a.MissedHeld = slices.Clip(kept)
	if len(a.MissedHeld) == 0 {
		a.MissedHeld = nil
	}
}

// expireMissed burns the held rewards of missed epochs older than missedHoldEpochs at the end
// of epoch now: a node that has not passed a round since proved nothing for that long.
func (s *State) expireMissed(now uint32) {
	if now < missedHoldEpochs {
		return
	}
	for _, id := range sortedIDs(s.d.Accountability) {
		a := s.d.Accountability[id]
		if len(a.MissedHeld) > 0 && a.MissedHeld[0].Epoch+missedHoldEpochs <= now {
			s.burnMissed(s.accountability(id), now-missedHoldEpochs+1)
		}
	}
}

// count adds a round's status to the result.
func (res *EpochResult) count(st ChallengeStatus) {
	switch st {
	case ChallengePassed:
		res.RoundsPassed++
	case ChallengeFailed:
		res.RoundsFailed++
	case ChallengeMissed:
		res.RoundsMissed++
	case ChallengeOpen:
		res.RoundsPending++
	default:
		res.RoundsVoid++
	}
}

// failEpoch records that the node failed epoch res.Epoch (settled when epoch now ends): a
// validity threshold of the shards attested an answer of its own that fails, so at least one
// correct member saw it lack data. Past the threshold of failed epochs in a row it is slashed
// and marked for exclusion from the next committee (capExclusions may lift that); failEpoch
// reports whether it was.
func (s *State) failEpoch(a *Accountability, res *EpochResult, now uint32) bool {
	res.Failed = true
	s.burnMissed(a, 0) // its misses were no outage: it lacks data
	a.EpochsFailed++
	a.ConsecutiveFailed++
	a.ConsecutiveMissed = 0
	if s.d.Params.SlashAfterFailedEpochs == 0 || a.ConsecutiveFailed < s.d.Params.SlashAfterFailedEpochs {
		return false
	}
	res.Slashed = s.slash(a.NodeID, res.Epoch)
	res.Excluded = true
	a.Slashed += res.Slashed
	a.Slashings++
	a.ExcludedEpoch = now + 1
	a.ConsecutiveFailed = 0
	return true
}

// missEpoch records that the node missed the rounds of epoch res.Epoch (final when epoch now
// ends) and passed or failed none. After ExcludeAfterMissedEpochs such epochs in a row it is marked for
// exclusion from the next committee (capExclusions may lift that), not slashed: a miss is not
// attributable, but a node silent for that long holds shards nobody can count on. missEpoch
// reports whether it was marked.
func (s *State) missEpoch(a *Accountability, res *EpochResult, now uint32) bool {
	a.ConsecutiveMissed++
	if s.d.Params.ExcludeAfterMissedEpochs == 0 || a.ConsecutiveMissed < s.d.Params.ExcludeAfterMissedEpochs {
		return false
	}
	res.Excluded = true
	a.ExcludedEpoch = now + 1
	a.ConsecutiveMissed = 0
	return true
}

// capExclusions bounds the nodes that the settlement of epoch now leaves out of the next
// committee, so that slashing can never take the committee below what keeps it safe and live:
// taken in order of their shards in now's committee (fewest first, then node ID), an exclusion
// stands only while the excluded members hold less than a third of the shards (below the
// validity threshold: at most f) and at least max(MinCommitteeSize, 1) members of now's
// committee remain. A node past the cap keeps its place; it was slashed all the same.
func (s *State) capExclusions(now uint32, nodes []ObjectID) {
	if len(nodes) == 0 {
		return
	}
	c := s.d.Committees[now]
	shardsOf := func(id ObjectID) int {
		if c == nil || c.MemberIndex(id) < 0 {
			return 0
		}
		return len(c.Members[c.MemberIndex(id)].Shards)
	}
	nodes = slices.Clone(nodes)
	slices.SortFunc(nodes, func(x, y ObjectID) int {
		if d := shardsOf(x) - shardsOf(y); d != 0 {
			return d
		}
		return bytes.Compare(x[:], y[:])
	})
	members, nShards := 0, 0
	if c != nil {
		members, nShards = len(c.Members), c.NShards
	}
	floor := max(s.d.Params.MinCommitteeSize, 1)
	weight, kept := 0, members
	for _, id := range nodes {
		w := shardsOf(id)
		inCommittee := c != nil && c.MemberIndex(id) >= 0
		if inCommittee && (protocol.Validity.Reached(weight+w, nShards) || kept-1 < floor) {
			a := s.accountability(id)
			a.ExcludedEpoch = 0
			for i := range a.Recent {
				if a.Recent[i].Epoch+1 >= now { // the result failEpoch marked: of now, or of now-1 (settleLate)
					a.Recent[i].Excluded = false
				}
			}
			continue
		}
		if inCommittee {
			weight += w
			kept--
		}
	}
}

// settleLate settles for good the rounds of epoch old that were pending when it ended: the
// members had the whole of epoch now (old+1), which is ending, to answer them. A member still
// challenged has missed the round. A member whose result of old was pending gets its final
// result: if it failed a round, it failed old (its held reward is burnt, and the failure counts
// towards slashing); if it missed one, its held reward is burnt (it proved nothing) but the
// miss counts towards nothing else; else its held reward is paid now. It returns excluded with
// the nodes marked for exclusion from now+1's committee appended.
func (s *State) settleLate(old, now uint32, excluded []ObjectID) []ObjectID {
	c := s.d.Committees[old]
	if s.d.Params.ChallengeRounds == 0 || c == nil {
		return excluded
	}
	for _, m := range c.Members {
		res := s.d.Accountability[m.NodeID].result(old)
		if res == nil || res.RoundsPending == 0 {
			continue
		}
		a := s.accountability(m.NodeID)
		final := EpochResult{}
		for r := uint32(0); r < uint32(s.d.Params.ChallengeRounds); r++ {
			id := challengeID(old, r, m.NodeID)
			nc := s.d.Challenges[id]
			if nc == nil || s.d.Rounds[roundID(old, r)] == nil {
				continue
			}
			if nc.Status == ChallengeOpen {
				s.touchChallenge(id)
				nc.Status, nc.Samples = ChallengeMissed, nil
				s.emit(Event{Type: EventChallengeMissed, NodeID: m.NodeID, Epoch: old, Round: r})
			}
			final.count(nc.Status)
		}
		a.RoundsPassed += uint64(final.RoundsPassed - res.RoundsPassed)
		a.RoundsFailed += uint64(final.RoundsFailed - res.RoundsFailed)
		a.RoundsMissed += uint64(final.RoundsMissed - res.RoundsMissed)
		res.RoundsPassed, res.RoundsFailed, res.RoundsMissed, res.RoundsPending = final.RoundsPassed, final.RoundsFailed, final.RoundsMissed, 0
		held := res.RewardHeld
		res.RewardHeld = 0
		switch {
		case res.Failed:
			// Failed already when old ended (its reward was burnt then).
		case res.RoundsFailed > 0:
			if s.failEpoch(a, res, now) {
				excluded = append(excluded, m.NodeID)
			}
			if held > 0 {
				s.burnReward(m.NodeID, a, res, held)
			}
		case res.RoundsMissed > 0:
			s.holdMissed(a, res, held)
			if res.RoundsPassed > 0 {
				a.ConsecutiveMissed = 0 // it answered some: not silent
			} else if s.missEpoch(a, res, now) {
				excluded = append(excluded, m.NodeID)
			}
		default:
			a.RewardsEarned += held
			res.Reward += held
			s.payNodeShare(m.NodeID, old, held)
			if res.RoundsPassed > 0 {
				a.ConsecutiveFailed = 0
				a.ConsecutiveMissed = 0
				s.releaseMissed(a)
			}
		}
	}
	return excluded
}

// burnReward burns node's share of res.Epoch's rewards, withheld for a failed challenge.
func (s *State) burnReward(node ObjectID, a *Accountability, res *EpochResult, share uint64) {
	a.RewardsWithheld += share
	res.RewardWithheld += share
	s.totals().RewardsBurnt += share
	s.emit(Event{Type: EventRewardWithheld, NodeID: node, Epoch: res.Epoch, Amount: share})
}

// slash burns SlashBasisPoints of every stake active with node in epoch e (including stakes
// whose withdrawal takes effect at the epoch change) and returns the amount.
func (s *State) slash(node ObjectID, e uint32) uint64 {
	var total uint64
	for _, id := range sortedIDs(s.d.Stakes) {
		st := s.d.Stakes[id]
		if st.NodeID != node || st.ActivationEpoch > e || (st.WithdrawEpoch != 0 && st.WithdrawEpoch <= e) {
			continue
		}
		cut := mulDiv(st.Amount, uint64(s.d.Params.SlashBasisPoints), 10000)
		if cut == 0 {
			continue
		}
		s.touchID(tableStake, id)
		st.Amount -= cut
		total += cut
	}
	s.totals().StakeSlashed += total
	s.emit(Event{Type: EventNodeSlashed, NodeID: node, Epoch: e, Amount: total, EndEpoch: e + 1})
	return total
}

// challengeWithholdReward is called by payRewards with each member's share of epoch e's
// rewards (after settleChallenges(e)). It reports whether the share is not to be paid now:
// withheld because the node failed a challenge in e (it is burnt), or held because a round is
// pending (settleLate pays or burns it when the next epoch ends). The node's record keeps the
// amount.
func (s *State) challengeWithholdReward(node ObjectID, e uint32, share uint64) bool {
	if s.d.Accountability[node].result(e) == nil {
		return false // challenges were off, or no round of e opened
	}
	a := s.accountability(node)
	res := a.result(e)
	switch {
	case res.Failed:
		s.burnReward(node, a, res, share)
		return true
	case res.RoundsPending > 0:
		res.RewardHeld += share
		return true
	}
	a.RewardsEarned += share
	res.Reward = share
	return false
}

// challengeExcluded reports whether node is left out of epoch e's committee for failing
// challenges (selectCommittee).
func (s *State) challengeExcluded(node ObjectID, e uint32) bool {
	a := s.d.Accountability[node]
	return a != nil && a.ExcludedEpoch == e
}

// pruneChallenges removes the rounds and challenges of the epoch before e.
func (s *State) pruneChallenges(e uint32) {
	if e == 0 {
		return
	}
	old := e - 1
	for r := uint32(0); r < uint32(max(s.d.Params.ChallengeRounds, 0)); r++ {
		if s.d.Rounds[roundID(old, r)] == nil {
			continue
		}
		s.touchRound(old, r)
		delete(s.d.Rounds, roundID(old, r))
	}
	for id, nc := range s.d.Challenges {
		if nc.Epoch <= old {
			s.touchChallenge(id)
			delete(s.d.Challenges, id)
		}
	}
}

// ChallengeShareOp records a member's seed share (api/controlplane's).
type ChallengeShareOp struct {
	Epoch  uint32
	Round  uint32
	NodeID ObjectID
	Share  crypto.BLSSignature
}

// ChallengeCertificateOp adds attestations to a member's challenge (api/controlplane's).
type ChallengeCertificateOp struct {
	Certificate protocol.Certificate
}

func challengeOpsFromAPI(w *cpapi.Op, o *Op) {
	if x := w.ChallengeShare; x != nil {
		o.ChallengeShare = &ChallengeShareOp{Epoch: x.Epoch, Round: x.Round, NodeID: ObjectID(x.NodeID), Share: crypto.BLSSignature(x.Share)}
	}
	if x := w.ChallengeCertificate; x != nil {
		o.ChallengeCertificate = &ChallengeCertificateOp{Certificate: certFromAPI(x.Certificate)}
	}
}

func challengeOpsToAPI(o *Op, w *cpapi.Op) {
	if x := o.ChallengeShare; x != nil {
		w.ChallengeShare = &cpapi.ChallengeShareOp{Epoch: x.Epoch, Round: x.Round, NodeID: cpapi.ObjectID(x.NodeID), Share: cpapi.BLSSignature(x.Share)}
	}
	if x := o.ChallengeCertificate; x != nil {
		w.ChallengeCertificate = &cpapi.ChallengeCertificateOp{Certificate: certToAPI(x.Certificate)}
	}
}
