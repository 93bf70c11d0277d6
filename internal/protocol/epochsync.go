package protocol

import (
	"fmt"

	"github.com/floelabs/floe/internal/crypto"
)

// IntentEpochSyncDone is Floe's own intent (Walrus has none: its nodes call epoch_sync_done
// from their Sui accounts): a committee member's report that it holds every shard it gained at
// the change to an epoch. Floe's intents start at 0x80, above Walrus's range.
const IntentEpochSyncDone IntentType = 0x80

// EpochSyncDone is the body a member signs for the control plane's EpochSyncDone operation:
// the node's object ID, after the header with the epoch it reports for.
type EpochSyncDone struct {
	Epoch  uint32
	NodeID ObjectID
}

// Encode returns header || node_id.
func (m EpochSyncDone) Encode() []byte {
	b := make([]byte, 0, HeaderLen+32)
	b = appendHeader(b, IntentEpochSyncDone, m.Epoch)
	return append(b, m.NodeID[:]...)
}

// DecodeEpochSyncDone parses an epoch-sync-done message.
func DecodeEpochSyncDone(msg []byte) (EpochSyncDone, error) {
	var m EpochSyncDone
	epoch, body, err := parseWithIntent(msg, IntentEpochSyncDone)
	if err != nil {
		return m, err
	}
	if len(body) != 32 {
		return m, fmt.Errorf("%w: epoch sync done body has %d bytes, want 32", ErrMalformed, len(body))
	}
	m.Epoch = epoch
	copy(m.NodeID[:], body)
	return m, nil
}

// SignEpochSyncDone returns key's signature of the epoch-sync-done message of node for epoch.
func SignEpochSyncDone(key *crypto.BLSSecretKey, epoch uint32, node ObjectID) crypto.BLSSignature {
	return key.Sign(EpochSyncDone{Epoch: epoch, NodeID: node}.Encode())
}

// VerifyEpochSyncDone checks sig under pk for node's report at epoch.
func VerifyEpochSyncDone(pk crypto.BLSPublicKey, epoch uint32, node ObjectID, sig crypto.BLSSignature) error {
	if err := crypto.VerifyBLS(pk, EpochSyncDone{Epoch: epoch, NodeID: node}.Encode(), sig); err != nil {
		return fmt.Errorf("protocol: epoch sync done: %w", err)
	}
	return nil
}
