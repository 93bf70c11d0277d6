package cpclient_test

import (
	"context"
	"errors"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/controlplane/cptest"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/merkle"
	"github.com/floelabs/floe/internal/protocol"
)

// TestChallengesOverHTTP runs a challenge round through the HTTP API: shares from an account
// that holds nothing, the seed, a node's samples, a pass certificate, and the queries the CLI
// and the explorer read.
func TestChallengesOverHTTP(t *testing.T) {
	nw := cptest.NewNetwork(10, 4, 1, 1e12, []uint64{40, 30, 20, 10}, time.Now())
	c, _ := serve(t, nw)
	ctx := context.Background()
	chainID := nw.Genesis.Params.ChainID
	alice := nw.Users[0]
	// One certified blob to sample from.
	root := merkle.LeafHash([]byte("challenged"))
	bid := blob.DeriveID(blob.RS2, 1000, root)
	inc, err := c.Execute(ctx, chainID, alice, cpapi.Op{RegisterBlob: &cpapi.RegisterBlobOp{
		EpochsAhead: 2, BlobID: bid, RootHash: cpapi.Hash(root), Size: 1000, EncodingType: 1}})
	if err != nil {
		t.Fatal(err)
	}
	com, err := c.CurrentCommittee(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := nw.Certify(com, protocol.StorageConfirmation{Epoch: com.Epoch, BlobID: bid}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Execute(ctx, chainID, alice, cpapi.Op{CertifyBlob: &cpapi.CertifyBlobOp{BlobObjectID: inc.Created[1], Certificate: cert}}); err != nil {
		t.Fatal(err)
	}
	ep, err := c.CurrentChallenges(ctx)
	if err != nil || len(ep.Rounds) != 1 || ep.Rounds[0].Seed != nil || ep.Rounds[0].QuorumWeight != 7 {
		t.Fatalf("challenges %+v %v", ep, err)
	}
	// Members' shares, sent from a key that never held tokens, until the seed is fixed (a
	// later share is refused).
	poor, err := crypto.AccountKeyFromSeed(cptest.Seeded("poor", 0))
	if err != nil {
		t.Fatal(err)
	}
	keyOf := map[cpapi.BLSPublicKey]*crypto.BLSSecretKey{}
	for _, k := range nw.NodeKeys {
		keyOf[cpapi.BLSPublicKey(k.PublicKey())] = k
	}
	for _, m := range com.Members {
		share := protocol.SignChallengeSeedShare(keyOf[m.BLSPublicKey], com.Epoch, 0)
		if _, err := c.Execute(ctx, chainID, poor, cpapi.Op{ChallengeShare: &cpapi.ChallengeShareOp{
			Epoch: com.Epoch, Round: 0, NodeID: m.NodeID, Share: cpapi.BLSSignature(share)}}); err != nil {
			if errors.Is(err, cpclient.ErrChallenge) {
				break
			}
			t.Fatal(err)
		}
	}
	ep, err = c.ChallengeEpoch(ctx, com.Epoch)
	if err != nil || ep.Rounds[0].Seed == nil || ep.Rounds[0].EligibleBlobs != 1 || len(ep.Rounds[0].Nodes) != 4 {
		t.Fatalf("after the shares: %+v %v", ep, err)
	}
	node := com.Members[0]
	nc, err := c.NodeChallenge(ctx, com.Epoch, 0, node.NodeID)
	if err != nil || nc.Status != cpapi.ChallengeOpen || len(nc.Samples) != 100 || nc.Samples[0].BlobID != bid {
		t.Fatalf("node challenge %+v %v", nc, err)
	}
	att := protocol.ChallengeAttestation{Epoch: com.Epoch, Round: 0, Node: protocol.ObjectID(node.NodeID), Passed: true}.Encode()
	pass, err := nw.Certify(com, att, nil)
	if err != nil {
		t.Fatal(err)
	}
	inc, err = c.Execute(ctx, chainID, poor, cpapi.Op{ChallengeCertificate: &cpapi.ChallengeCertificateOp{Certificate: pass}})
	if err != nil || len(inc.Events) != 1 || inc.Events[0].Type != cpapi.EventChallengePassed || inc.Events[0].NodeID != node.NodeID {
		t.Fatalf("pass certificate: %+v %v", inc, err)
	}
	// The same certificate again adds nothing: refused at admission.
	if _, err := c.Execute(ctx, chainID, poor, cpapi.Op{ChallengeCertificate: &cpapi.ChallengeCertificateOp{Certificate: pass}}); !errors.Is(err, cpclient.ErrChallenge) {
		t.Fatalf("a certificate for a decided challenge: %v", err)
	}
	rep, err := c.Accountability(ctx)
	if err != nil || rep.Epoch != com.Epoch || rep.RewardPool == 0 {
		t.Fatalf("accountability %+v %v", rep, err)
	}
	if _, err := c.NodeAccountability(ctx, node.NodeID); !errors.Is(err, cpclient.ErrNotFound) {
		t.Fatalf("a node's record before its first settled epoch: %v", err)
	}
	if _, err := c.NodeChallenge(ctx, com.Epoch, 5, node.NodeID); !errors.Is(err, cpclient.ErrNotFound) {
		t.Fatalf("a round that does not exist: %v", err)
	}
	events, err := c.Events(ctx, 0, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[cpapi.EventType]bool{}
	for _, e := range events.Events {
		seen[e.Type] = true
	}
	for _, want := range []cpapi.EventType{cpapi.EventChallengeRoundOpened, cpapi.EventChallengeSeedFixed, cpapi.EventChallengePassed} {
		if !seen[want] {
			t.Fatalf("no %s event", want)
		}
	}
}
