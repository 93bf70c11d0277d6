package protocol

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/floelabs/floe/internal/crypto"
)

func TestChallengeMessageBytes(t *testing.T) {
	share := ChallengeSeedShare{Epoch: 0x01020304, Round: 5}.Encode()
	if want, _ := hex.DecodeString("1000030403020105000000"); !bytes.Equal(share, want) {
		t.Fatalf("seed share = %x, want %x", share, want)
	}
	node := ObjectID{0xaa}
	node[31] = 0xbb
	att := ChallengeAttestation{Epoch: 7, Round: 1, Node: node, Passed: true}.Encode()
	if len(att) != 7+37 || att[0] != 17 || att[11] != 0xaa || att[42] != 0xbb || att[43] != 1 {
		t.Fatalf("attestation = %x", att)
	}
	fail := ChallengeAttestation{Epoch: 7, Round: 1, Node: node}.Encode()
	if fail[43] != 0 {
		t.Fatalf("fail attestation = %x", fail)
	}
	ans := ChallengeAnswer{Epoch: 9, Round: 2, Node: node, Digest: [32]byte{1}}.Encode()
	if len(ans) != 7+68 || ans[0] != 18 || ans[43] != 1 {
		t.Fatalf("answer = %x", ans)
	}
	for _, msg := range [][]byte{share, att, fail, ans} {
		var back []byte
		switch msg[0] {
		case 16:
			m, err := DecodeChallengeSeedShare(msg)
			if err != nil {
				t.Fatal(err)
			}
			back = m.Encode()
		case 17:
			m, err := DecodeChallengeAttestation(msg)
			if err != nil {
				t.Fatal(err)
			}
			back = m.Encode()
		case 18:
			m, err := DecodeChallengeAnswer(msg)
			if err != nil {
				t.Fatal(err)
			}
			back = m.Encode()
		}
		if !bytes.Equal(back, msg) {
			t.Fatalf("round trip changed %x into %x", msg, back)
		}
	}
	bad := append([]byte(nil), att...)
	bad[43] = 2
	if _, err := DecodeChallengeAttestation(bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("verdict 2: %v", err)
	}
	if _, err := DecodeChallengeAttestation(share); !errors.Is(err, ErrWrongIntent) {
		t.Fatalf("a share decoded as an attestation: %v", err)
	}
	if (ChallengeAttestation{Passed: true}).Threshold() != Quorum || (ChallengeAttestation{}).Threshold() != Validity {
		t.Fatal("thresholds: pass needs a quorum, fail a validity threshold")
	}
}

// TestChallengeSeedShareIsUnique: a member's share is one fixed value (BLS signatures are
// deterministic), checkable against its key, and different for every round.
func TestChallengeSeedShareIsUnique(t *testing.T) {
	k, err := crypto.BLSKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	a, b := SignChallengeSeedShare(k, 4, 0), SignChallengeSeedShare(k, 4, 0)
	if a != b {
		t.Fatal("two signatures of the same share differ")
	}
	if err := VerifyChallengeSeedShare(k.PublicKey(), 4, 0, a); err != nil {
		t.Fatal(err)
	}
	if err := VerifyChallengeSeedShare(k.PublicKey(), 4, 1, a); err == nil {
		t.Fatal("the share of round 0 verified for round 1")
	}
	if SignChallengeSeedShare(k, 4, 1) == a || SignChallengeSeedShare(k, 5, 0) == a {
		t.Fatal("shares of different rounds are equal")
	}
}

func FuzzDecodeChallengeMessages(f *testing.F) {
	f.Add(ChallengeSeedShare{Epoch: 1, Round: 2}.Encode())
	f.Add(ChallengeAttestation{Epoch: 1, Round: 2, Node: ObjectID{3}, Passed: true}.Encode())
	f.Add(ChallengeAnswer{Epoch: 1, Round: 2, Node: ObjectID{3}}.Encode())
	f.Add([]byte{17, 0, 3})
	f.Fuzz(func(t *testing.T, msg []byte) {
		if m, err := DecodeChallengeSeedShare(msg); err == nil && !bytes.Equal(m.Encode(), msg) {
			t.Fatalf("seed share not canonical: %x", msg)
		}
		if m, err := DecodeChallengeAttestation(msg); err == nil && !bytes.Equal(m.Encode(), msg) {
			t.Fatalf("attestation not canonical: %x", msg)
		}
		if m, err := DecodeChallengeAnswer(msg); err == nil && !bytes.Equal(m.Encode(), msg) {
			t.Fatalf("answer not canonical: %x", msg)
		}
	})
}
