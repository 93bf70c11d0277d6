package protocol

import (
	"encoding/binary"
	"fmt"

	"github.com/floelabs/floe/internal/crypto"
)

// Intent types of Floe's storage challenges. Walrus has no challenge messages (spec §8.1); these
// values are Floe's own, far from Walrus's (0..6) so that a future Walrus intent cannot collide.
const (
	// IntentChallengeSeedShare: a committee member's share of a challenge round's seed.
	IntentChallengeSeedShare IntentType = 16
	// IntentChallengeAttestation: a member's verdict on another member's answer.
	IntentChallengeAttestation IntentType = 17
	// IntentChallengeAnswer: the challenged node's signature over its answer.
	IntentChallengeAnswer IntentType = 18
)

// ChallengeSeedShare is what every committee member of Epoch signs to contribute to the seed of
// challenge round Round: header || round (u32 LE). BLS signatures (min-pk, basic scheme) are
// deterministic, so each member's share is one fixed value that only the member can compute
// and anyone can check against its public key.
type ChallengeSeedShare struct {
	Epoch uint32
	Round uint32
}

// Encode returns the signed bytes.
func (m ChallengeSeedShare) Encode() []byte {
	b := make([]byte, 0, HeaderLen+4)
	b = appendHeader(b, IntentChallengeSeedShare, m.Epoch)
	return binary.LittleEndian.AppendUint32(b, m.Round)
}

// DecodeChallengeSeedShare parses a seed-share message.
func DecodeChallengeSeedShare(msg []byte) (ChallengeSeedShare, error) {
	var m ChallengeSeedShare
	epoch, body, err := parseWithIntent(msg, IntentChallengeSeedShare)
	if err != nil {
		return m, err
	}
	if len(body) != 4 {
		return m, fmt.Errorf("%w: seed share body has %d bytes, want 4", ErrMalformed, len(body))
	}
	m.Epoch, m.Round = epoch, binary.LittleEndian.Uint32(body)
	return m, nil
}

// SignChallengeSeedShare returns key's share of the seed of round (epoch, round).
func SignChallengeSeedShare(key *crypto.BLSSecretKey, epoch, round uint32) crypto.BLSSignature {
	return key.Sign(ChallengeSeedShare{Epoch: epoch, Round: round}.Encode())
}

// VerifyChallengeSeedShare checks a seed share against a member's key.
func VerifyChallengeSeedShare(pk crypto.BLSPublicKey, epoch, round uint32, share crypto.BLSSignature) error {
	if err := crypto.VerifyBLS(pk, ChallengeSeedShare{Epoch: epoch, Round: round}.Encode(), share); err != nil {
		return fmt.Errorf("protocol: challenge seed share: %w", err)
	}
	return nil
}

// ChallengeAttestation is a committee member's verdict on Node's answer to challenge round
// (Epoch, Round): header || round (u32 LE) || node ID (32 bytes) || verdict (1 pass, 0 fail).
// Pass attestations of a quorum of shards certify that the node passed; fail attestations of
// a validity threshold (at least one correct member) certify that it failed.
type ChallengeAttestation struct {
	Epoch  uint32
	Round  uint32
	Node   ObjectID
	Passed bool
}

// Threshold returns the weight a certificate of this verdict needs.
func (m ChallengeAttestation) Threshold() Threshold {
	if m.Passed {
		return Quorum
	}
	return Validity
}

// Encode returns the signed bytes.
func (m ChallengeAttestation) Encode() []byte {
	b := make([]byte, 0, HeaderLen+4+32+1)
	b = appendHeader(b, IntentChallengeAttestation, m.Epoch)
	b = binary.LittleEndian.AppendUint32(b, m.Round)
	b = append(b, m.Node[:]...)
	if m.Passed {
		return append(b, 1)
	}
	return append(b, 0)
}

// DecodeChallengeAttestation parses an attestation.
func DecodeChallengeAttestation(msg []byte) (ChallengeAttestation, error) {
	var m ChallengeAttestation
	epoch, body, err := parseWithIntent(msg, IntentChallengeAttestation)
	if err != nil {
		return m, err
	}
	if len(body) != 4+32+1 {
		return m, fmt.Errorf("%w: attestation body has %d bytes, want 37", ErrMalformed, len(body))
	}
	if body[36] > 1 {
		return m, fmt.Errorf("%w: attestation verdict %d", ErrMalformed, body[36])
	}
	m.Epoch, m.Round = epoch, binary.LittleEndian.Uint32(body)
	copy(m.Node[:], body[4:36])
	m.Passed = body[36] == 1
	return m, nil
}

// ChallengeAnswer is what a challenged node signs over its answer, so that a verifier can hold
// the node to it: header || round (u32 LE) || node ID || Blake2b-256 of the answer's encoding.
type ChallengeAnswer struct {
	Epoch  uint32
	Round  uint32
	Node   ObjectID
	Digest [32]byte
}

// Encode returns the signed bytes.
func (m ChallengeAnswer) Encode() []byte {
	b := make([]byte, 0, HeaderLen+4+32+32)
	b = appendHeader(b, IntentChallengeAnswer, m.Epoch)
	b = binary.LittleEndian.AppendUint32(b, m.Round)
	b = append(b, m.Node[:]...)
	return append(b, m.Digest[:]...)
}

// DecodeChallengeAnswer parses an answer signature message.
func DecodeChallengeAnswer(msg []byte) (ChallengeAnswer, error) {
	var m ChallengeAnswer
	epoch, body, err := parseWithIntent(msg, IntentChallengeAnswer)
	if err != nil {
		return m, err
	}
	if len(body) != 4+32+32 {
		return m, fmt.Errorf("%w: answer body has %d bytes, want 68", ErrMalformed, len(body))
	}
	m.Epoch, m.Round = epoch, binary.LittleEndian.Uint32(body)
	copy(m.Node[:], body[4:36])
	copy(m.Digest[:], body[36:])
	return m, nil
}

// VerifySigners checks a certificate's bitmap and aggregate signature against members (in
// committee order), whatever the signers' weight, and returns the signers' indices. Challenge
// attestations are accumulated across transactions, so their threshold is checked on the sum.
func (c Certificate) VerifySigners(members []Member) ([]int, error) {
	idx, err := SignerIndices(c.Signers, len(members))
	if err != nil {
		return nil, err
	}
	if len(idx) == 0 {
		return nil, fmt.Errorf("%w: no signers", ErrBitmap)
	}
	pks := make([]crypto.BLSPublicKey, len(idx))
	for i, m := range idx {
		pks[i] = members[m].PublicKey
	}
	if err := crypto.VerifyAggregate(pks, c.Message, c.Signature); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCertificate, err)
	}
	return idx, nil
}
