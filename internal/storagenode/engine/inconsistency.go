package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/fanout"
	"github.com/floelabs/floe/internal/nodestore"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

// Inconsistency proofs and invalid blobs (spec §8.2). A node whose rebuilt sliver does not
// match the metadata POSTs the proof to every committee member; each verifies it and answers
// with its signed invalid-blob message (intent 2) for its current epoch; the prover
// aggregates attestations covering f+1 shards (protocol.Validity) into a certificate and
// submits it to the control plane, whose InvalidBlobID event makes every node mark the blob
// invalid, drop its slivers and refuse its uploads.

// proofLimit bounds the body of an inconsistency proof of axis a for a blob of symbol size s.
func proofLimit(p redstuff.Params, a redstuff.Axis, s int) int64 {
	return 2 + 3 + int64(p.SymbolCount(a))*int64(s+api.SymbolOverhead)
}

// DecodeInconsistencyProof decodes and verifies an inconsistency-proof body for the target
// axis a against the blob's metadata.
func DecodeInconsistencyProof(enc *redstuff.Encoder, md *blob.MetadataWithID, a redstuff.Axis, body []byte) (*redstuff.InconsistencyProof, error) {
	proof, err := blob.UnmarshalInconsistencyProof(body, a)
	if err != nil {
		return nil, fmt.Errorf("%w: inconsistency proof: %w", ErrMalformedBody, err)
	}
	if err := blob.VerifyInconsistencyProof(enc, md, proof); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidProof, err)
	}
	return proof, nil
}

// Inconsistency handles inconsistency proofs: it attests the proofs other nodes send, and
// proves a blob inconsistent itself when one of its rebuilt slivers does not match.
type Inconsistency struct{ *core }

// proofTarget returns the view and verified metadata for a proof about blob id: only blobs
// the control plane registered are worth a look (and a metadata fetch from peers).
func (n *Inconsistency) proofTarget(ctx context.Context, id blob.ID) (*epochView, *blob.MetadataWithID, int, error) {
	v, err := n.currentView()
	if err != nil {
		return nil, nil, 0, err
	}
	info, err := n.blobInfo(ctx, id)
	if err != nil {
		return nil, nil, 0, err
	}
	if info == (nodestore.BlobInfo{}) {
		return nil, nil, 0, fmt.Errorf("%w: %s", ErrNotRegistered, id)
	}
	md, err := n.ensureMetadata(ctx, id, v)
	if err != nil {
		return nil, nil, 0, err
	}
	if len(md.Metadata.Hashes) != v.nShards {
		return nil, nil, 0, fmt.Errorf("%w: metadata has %d shards, committee %d", ErrInvalidMetadata, len(md.Metadata.Hashes), v.nShards)
	}
	s, err := md.Metadata.SymbolSize(v.enc.Params())
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%w: %w", ErrInvalidMetadata, err)
	}
	return v, md, s, nil
}

// ProofLimit returns the largest body of an inconsistency proof about blob id whose target is
// of axis a.
func (n *Inconsistency) ProofLimit(ctx context.Context, id blob.ID, a redstuff.Axis) (int64, error) {
	v, _, s, err := n.proofTarget(ctx, id)
	if err != nil {
		return 0, err
	}
	return proofLimit(v.enc.Params(), a, s), nil
}

// Attest verifies an inconsistency proof (BCS, its target of axis a) about blob id and returns
// the node's signed invalid-blob message for its current epoch.
func (n *Inconsistency) Attest(ctx context.Context, id blob.ID, a redstuff.Axis, body []byte) (api.SignedMessage, error) {
	v, md, _, err := n.proofTarget(ctx, id)
	if err != nil {
		return api.SignedMessage{}, err
	}
	select {
	case n.verifySem <- struct{}{}:
	case <-ctx.Done():
		return api.SignedMessage{}, ctx.Err()
	}
	_, err = DecodeInconsistencyProof(v.enc, md, a, body)
	<-n.verifySem
	if err != nil {
		n.m.inconsistency.WithLabelValues("rejected").Inc()
		return api.SignedMessage{}, err
	}
	msg := protocol.InvalidBlobID{Epoch: v.epoch, BlobID: id}.Encode()
	sig := n.key.Sign(msg)
	n.m.inconsistency.WithLabelValues("attested").Inc()
	n.log.Warn("inconsistency proof verified; signed the invalid-blob message", "blob", id, "axis", a, "epoch", v.epoch)
	return api.SignedMessage{SerializedMessage: msg, Signature: sig[:]}, nil
}

// prove collects invalid-blob attestations for the proof from the committee until
// they cover the validity threshold, then submits the certificate.
func (n *Inconsistency) prove(ctx context.Context, v *epochView, md *blob.MetadataWithID, proof *redstuff.InconsistencyProof) error {
	body, err := blob.MarshalInconsistencyProof(proof)
	if err != nil {
		return err
	}
	c := v.committee
	msg := protocol.InvalidBlobID{Epoch: v.epoch, BlobID: md.ID}.Encode()
	sigs := map[int]crypto.BLSSignature{}
	weight := 0
	reached := func() bool { return protocol.Validity.Reached(weight, c.NShards) }
	var tasks []fanout.Task
	for i, m := range c.Members {
		switch {
		case crypto.BLSPublicKey(m.BLSPublicKey) == n.pub:
			sigs[i], weight = n.key.Sign(msg), len(m.Shards)
		case len(m.Shards) > 0:
			tasks = append(tasks, fanout.Task{Node: i, Key: i, Weight: len(m.Shards)})
		}
	}
	// One fan-out job over the other members, ended once the threshold is reached.
	job := fanout.Start(ctx, fanout.Config{Nodes: len(c.Members), Limit: n.cfg.RecoveryFetches}, tasks,
		func(ctx context.Context, i int, _ []fanout.Task) (crypto.BLSSignature, error) {
			peer, err := n.peer(&c.Members[i])
			if err != nil {
				return crypto.BLSSignature{}, err
			}
			return peer.InconsistencyProof(ctx, md.ID, proof.Target, body, msg)
		})
	defer job.Stop()
	var errs []error
	for !reached() {
		res, err := job.Next(time.Time{})
		if err != nil {
			break
		}
		if res.Err != nil {
			errs = append(errs, res.Err)
			continue
		}
		sigs[res.Node] = res.Value
		weight += len(c.Members[res.Node].Shards)
	}
	job.Stop()
	if !reached() {
		return fmt.Errorf("invalid-blob attestations for %s cover %d of %d shards, not enough: %w", md.ID, weight, c.NShards, errors.Join(errs...))
	}
	signers := make([]int, 0, len(sigs))
	list := make([]crypto.BLSSignature, 0, len(sigs))
	for i := range c.Members {
		if sig, ok := sigs[i]; ok {
			signers = append(signers, i)
			list = append(list, sig)
		}
	}
	agg, err := crypto.AggregateSignatures(list)
	if err != nil {
		return fmt.Errorf("aggregating invalid-blob attestations: %w", err)
	}
	bm, err := protocol.Bitmap(len(c.Members), signers)
	if err != nil {
		return err
	}
	cert := cpapi.Certificate{Signers: bm, Message: msg, Signature: cpapi.BLSSignature(agg)}
	if err := n.submit(ctx, cpapi.Op{InvalidateBlob: &cpapi.InvalidateBlobOp{Certificate: cert}}); err != nil {
		return fmt.Errorf("submitting the invalid-blob certificate of %s: %w", md.ID, err)
	}
	n.m.invalidationsSent.Inc()
	n.log.Warn("blob proven inconsistently encoded; invalid-blob certificate submitted", "blob", md.ID,
		"signers", len(signers), "shards", weight, "epoch", v.epoch)
	return nil
}

// submit signs op with the node's account key and submits it, refetching the nonce once if
// it was stale.
func (n *Inconsistency) submit(ctx context.Context, op cpapi.Op) error {
	n.txMu.Lock()
	defer n.txMu.Unlock()
	info, err := n.cp.Info(ctx)
	if err != nil {
		return err
	}
	var last error
	for range 2 {
		nonce, err := n.cp.Nonce(ctx, n.account.Address())
		if err != nil {
			return err
		}
		raw, err := cpclient.Sign(&cpapi.Tx{ChainID: info.Params.ChainID, Sender: cpapi.PublicKey(n.account.PublicKey()), Nonce: nonce, Op: op}, n.account)
		if err != nil {
			return err
		}
		var res *cpapi.TxResult
		if res, last = n.cp.Submit(ctx, raw); last == nil {
			return nil
		}
		badNonce := errors.Is(last, controlplane.ErrBadNonce) || errors.Is(last, cpclient.ErrBadNonce) ||
			(res != nil && res.Code == cpapi.CodeBadNonce)
		if !badNonce {
			return last
		}
	}
	return last
}
