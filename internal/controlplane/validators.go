package controlplane

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"sort"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/protocol"
)

// The CometBFT validator set follows stake. A node's operator attaches the consensus key of
// the validator it runs to its node (SetValidatorOp, signed by that key). At each epoch change
// the control plane computes the validator set from the new committee: every member with a
// validator key, with its shard count as voting power. The first time, the switch waits until
// the members with validator keys hold a quorum of the shards; until then the genesis
// validators (Genesis.Validators, which `floe chain init` lists) stay as they are. From then
// on the set is exactly the committee members with validator keys, so operators join and
// leave the replicated control plane with their stake. The CometBFT driver passes the changes
// to CometBFT (ValidatorUpdates at the end of the block); the embedded driver has no use for
// them.

// MarshalText implements encoding.TextMarshaler (64 hex digits).
func (k ValidatorKey) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(k[:])), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *ValidatorKey) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return fmt.Errorf("%w: validator key has %d hex digits, want 64", ErrInvalidTx, len(b))
	}
	if _, err := hex.Decode(k[:], b); err != nil {
		return fmt.Errorf("%w: validator key: %w", ErrInvalidTx, err)
	}
	return nil
}

// GenesisValidator is a validator of the CometBFT genesis, without stake.
type GenesisValidator struct {
	PublicKey ValidatorKey `json:"public_key"`
	Power     int64        `json:"power"`
}

// setValidator attaches (or clears) a node's validator key.
func (s *State) setValidator(sender Address, op *SetValidatorOp) error {
	n, err := s.ownedNode(sender, op.NodeID)
	if err != nil {
		return err
	}
	if len(op.PublicKey) == 0 {
		n.ValidatorKey = nil
		s.emit(Event{Type: EventValidatorSet, NodeID: n.ID, Owner: sender})
		return nil
	}
	if len(op.PublicKey) != ed25519.PublicKeySize || len(op.Signature) != ed25519.SignatureSize {
		return fmt.Errorf("%w: a validator key has %d bytes and its signature %d", ErrInvalidTx, ed25519.PublicKeySize, ed25519.SignatureSize)
	}
	msg := cpapi.ValidatorKeyMessage(s.d.Params.ChainID, cpapi.ObjectID(op.NodeID))
	if !ed25519.Verify(ed25519.PublicKey(op.PublicKey), msg, op.Signature) {
		return fmt.Errorf("%w: the validator key's signature does not verify", ErrBadPoP)
	}
	for id, other := range s.d.Nodes {
		if id != n.ID && bytes.Equal(other.ValidatorKey, op.PublicKey) {
			return fmt.Errorf("%w: validator key already set on node %s", ErrBadPoP, id)
		}
	}
	n.ValidatorKey = bytes.Clone(op.PublicKey)
	s.emit(Event{Type: EventValidatorSet, NodeID: n.ID, Owner: sender})
	return nil
}

// updateValidators computes the validator set for committee c and records the changes for
// the driver (see the comment at the top of this file).
func (s *State) updateValidators(c *Committee) {
	want := map[ValidatorKey]*Validator{}
	weight := 0
	for _, m := range c.Members {
		n := s.d.Nodes[m.NodeID]
		if n == nil || len(n.ValidatorKey) != ed25519.PublicKeySize || len(m.Shards) == 0 {
			continue
		}
		want[ValidatorKey(n.ValidatorKey)] = &Validator{Power: int64(len(m.Shards)), NodeID: m.NodeID}
		weight += len(m.Shards)
	}
	managed := false
	for _, v := range s.d.Validators {
		if v.NodeID != (ObjectID{}) {
			managed = true
			break
		}
	}
	if len(want) == 0 || (!managed && !protocol.Quorum.Reached(weight, c.NShards)) {
		return
	}
	for k := range s.d.Validators {
		if _, keep := want[k]; !keep {
			s.valUpdates = append(s.valUpdates, ValidatorUpdate{PublicKey: k, Power: 0})
			s.touchID(tableValidator, k)
			delete(s.d.Validators, k)
		}
	}
	for k, v := range want {
		old := s.d.Validators[k]
		if old != nil && *old == *v {
			continue
		}
		s.valUpdates = append(s.valUpdates, ValidatorUpdate{PublicKey: k, Power: v.Power})
		s.touchID(tableValidator, k)
		s.d.Validators[k] = v
	}
	sort.Slice(s.valUpdates, func(i, j int) bool {
		return bytes.Compare(s.valUpdates[i].PublicKey[:], s.valUpdates[j].PublicKey[:]) < 0
	})
}

// Validators returns the CometBFT validator set the control plane keeps, sorted by key
// (empty when it manages none: the embedded driver, or no genesis validators and no member
// with a validator key holding a quorum yet).
func (s *State) Validators() []cpapi.Validator {
	keys := make([]ValidatorKey, 0, len(s.d.Validators))
	for k := range s.d.Validators {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i][:], keys[j][:]) < 0 })
	out := make([]cpapi.Validator, len(keys))
	for i, k := range keys {
		v := s.d.Validators[k]
		out[i] = cpapi.Validator{PublicKey: bytes.Clone(k[:]), Power: v.Power, NodeID: cpapi.ObjectID(v.NodeID)}
	}
	return out
}
