package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/internal/challenge"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

// AnswerLimit returns the largest challenge answer the node accepts: one of the network's
// samples per node, each with a symbol of the largest size.
func (c *Challenges) AnswerLimit(ctx context.Context) (int64, error) {
	info, err := c.cp.Info(ctx)
	if err != nil {
		return 0, err
	}
	if info.Params.ChallengeRounds == 0 {
		return 0, fmt.Errorf("%w: the network runs no challenges", ErrNoChallenge)
	}
	return challenge.MaxAnswerSize(info.Params.ChallengeSamples), nil
}

// Verify checks another member's answer to its challenge and returns this node's signed
// attestation: pass if every sample is proven (or excused, the control plane confirming that
// its blob is no longer certified), fail if the answer, signed by the challenged node itself,
// proves that it lacks something (a proof that does not verify, a sample it admits missing, a
// wrong number of entries). A fail attestation is also submitted to the control plane, where
// those of a validity threshold of the shards fail the node. An answer that excuses a sample
// whose blob is still certified gets no attestation (ErrExcuseRejected): the node may have
// seen a deletion that a new certification followed, and should answer again.
func (c *Challenges) Verify(ctx context.Context, body []byte) (api.SignedMessage, error) {
	c.m.bytes.WithLabelValues("received").Add(float64(len(body)))
	ans, err := challenge.Unmarshal(body)
	if err != nil {
		return api.SignedMessage{}, fmt.Errorf("%w: %w", ErrMalformedBody, err)
	}
	cm, err := c.committee(ctx, ans.Epoch)
	if err != nil {
		if errors.Is(err, ErrNoCommittee) {
			return api.SignedMessage{}, fmt.Errorf("%w: no committee in epoch %d", ErrNoChallenge, ans.Epoch)
		}
		return api.SignedMessage{}, err
	}
	me, prover := -1, cm.MemberIndex(cpapi.ObjectID(ans.Node))
	for i, m := range cm.Members {
		if crypto.BLSPublicKey(m.BLSPublicKey) == c.pub {
			me = i
		}
	}
	switch {
	case me < 0:
		return api.SignedMessage{}, fmt.Errorf("%w: this node is not a member of epoch %d", ErrNotInCommittee, ans.Epoch)
	case prover < 0:
		return api.SignedMessage{}, fmt.Errorf("%w: node %s is not a member of epoch %d", ErrNoChallenge, ans.Node, ans.Epoch)
	}
	if err := ans.VerifySignature(crypto.BLSPublicKey(cm.Members[prover].BLSPublicKey)); err != nil {
		return api.SignedMessage{}, fmt.Errorf("%w: %w", ErrInvalidAnswer, err)
	}
	nc, err := c.cp.NodeChallenge(ctx, ans.Epoch, ans.Round, cpapi.ObjectID(ans.Node))
	if err != nil {
		return api.SignedMessage{}, err
	}
	if nc.Status != cpapi.ChallengeOpen {
		return api.SignedMessage{}, fmt.Errorf("%w: node %s is %s in round %d of epoch %d", ErrNoChallenge, ans.Node, nc.Status, ans.Round, ans.Epoch)
	}
	samples, err := samplesOf(nc)
	if err != nil {
		return api.SignedMessage{}, err
	}
	params, err := redstuff.NewParams(cm.NShards)
	if err != nil {
		return api.SignedMessage{}, err
	}
	select {
	case c.verifySem <- struct{}{}:
	case <-ctx.Done():
		return api.SignedMessage{}, ctx.Err()
	}
	why, err := c.judge(ctx, params, samples, ans, func(ctx context.Context, shard uint16) (bool, error) {
		return c.shardMoved(ctx, ans, shard)
	})
	<-c.verifySem
	if err != nil {
		return api.SignedMessage{}, err
	}
	att := protocol.ChallengeAttestation{Epoch: ans.Epoch, Round: ans.Round, Node: ans.Node, Passed: why == ""}
	msg := att.Encode()
	sig := c.key.Sign(msg)
	if att.Passed {
		c.m.attestations.WithLabelValues("pass").Inc()
		c.attested[1].Add(1)
	} else {
		c.m.attestations.WithLabelValues("fail").Inc()
		c.attested[0].Add(1)
		c.log.Warn("storage challenge: a member's answer fails", "node", cm.Members[prover].Name, "epoch", ans.Epoch,
			"round", ans.Round, "why", why)
		c.reportFail(ctx, cm, me, att, sig)
	}
	return api.SignedMessage{SerializedMessage: msg, Signature: sig[:]}, nil
}

// shardMoved reports whether the prover of ans, answering a round of an epoch that has ended,
// no longer holds shard in the current committee: it deleted the shard after the epoch change
// and may excuse its samples (the new owner is challenged on it from now on).
func (c *Challenges) shardMoved(ctx context.Context, ans *challenge.Answer, shard uint16) (bool, error) {
	info, err := c.cp.Info(ctx)
	if err != nil {
		return false, err
	}
	if info.Epoch <= ans.Epoch {
		return false, nil
	}
	cm, err := c.committee(ctx, info.Epoch)
	if err != nil {
		return false, err
	}
	i := cm.MemberIndex(cpapi.ObjectID(ans.Node))
	return i < 0 || !slices.Contains(cm.Members[i].Shards, shard), nil
}

// judge checks every entry of ans against samples; it returns why the answer fails ("" if it
// passes), or ErrExcuseRejected. An excused entry must be of a blob that is no longer
// certified or of a shard that moved (moved).
func (c *Challenges) judge(ctx context.Context, params redstuff.Params, samples []challenge.Sample, ans *challenge.Answer,
	moved func(ctx context.Context, shard uint16) (bool, error)) (string, error) {
	if len(ans.Entries) != len(samples) {
		return fmt.Sprintf("%d entries for %d samples", len(ans.Entries), len(samples)), nil
	}
	var excuses []int
	for i := range samples {
		e := &ans.Entries[i]
		switch e.Status {
		case challenge.Proven:
			if err := challenge.Verify(params, samples[i], e); err != nil {
				return fmt.Sprintf("sample %d: %v", i, err), nil
			}
		case challenge.Missing:
			return fmt.Sprintf("sample %d: the node says it does not have it", i), nil
		case challenge.Excused:
			excuses = append(excuses, i)
		}
	}
	checked := map[[32]byte]bool{}
	movedShards := map[uint16]bool{}
	for _, i := range excuses {
		id, shard := samples[i].BlobID, samples[i].Shard
		if checked[id] || movedShards[shard] {
			continue
		}
		ok, err := moved(ctx, shard)
		if err != nil {
			return "", err
		}
		if ok {
			movedShards[shard] = true
			continue
		}
		if ok, err = c.excused(ctx, id); err != nil {
			return "", err
		}
		if !ok {
			return "", fmt.Errorf("%w: sample %d, blob %s", ErrExcuseRejected, i, id)
		}
		checked[id] = true
	}
	return "", nil
}

// reportFail submits this node's fail attestation to the control plane, once per node and
// round, in the background (the verifier's answer does not wait for a block).
func (c *Challenges) reportFail(ctx context.Context, cm *cpapi.Committee, me int, att protocol.ChallengeAttestation, sig crypto.BLSSignature) {
	k := failKey{roundKey{att.Epoch, att.Round}, cpapi.ObjectID(att.Node)}
	c.mu.Lock()
	if c.failSent[k] {
		c.mu.Unlock()
		return
	}
	c.failSent[k] = true
	c.mu.Unlock()
	bm, err := protocol.Bitmap(len(cm.Members), []int{me})
	if err != nil {
		return
	}
	cert := cpapi.Certificate{Signers: bm, Message: att.Encode(), Signature: cpapi.BLSSignature(sig)}
	go func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := c.submit(sctx, cpapi.Op{ChallengeCertificate: &cpapi.ChallengeCertificateOp{Certificate: cert}}); err != nil {
			c.log.Warn("storage challenge: submitting a fail attestation", "node", att.Node, "epoch", att.Epoch, "round", att.Round, "err", err)
			c.mu.Lock()
			delete(c.failSent, k) // the next failing answer tries again
			c.mu.Unlock()
		}
	}()
}
