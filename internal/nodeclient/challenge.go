package nodeclient

import (
	"context"
	"fmt"
	"net/http"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
)

// ChallengeAnswer sends a node's signed answer to a storage challenge (internal/challenge's
// encoding, at most limit bytes) and returns the member's attestation, checked: a
// ChallengeAttestation about the round and node of want (the verdict is the member's), signed
// under the member's key.
func (c *Client) ChallengeAnswer(ctx context.Context, answer []byte, want protocol.ChallengeAttestation) (protocol.ChallengeAttestation, crypto.BLSSignature, error) {
	req := c.request(http.MethodPost, api.RouteChallengeAnswer)
	req.Body, req.ContentType = Bytes(answer), api.ContentTypeOctetStream
	sm, err := getJSON[api.SignedMessage](ctx, c, req)
	if err != nil {
		return protocol.ChallengeAttestation{}, crypto.BLSSignature{}, err
	}
	op := "POST " + req.Path
	att, err := protocol.DecodeChallengeAttestation(sm.SerializedMessage)
	if err != nil {
		return att, crypto.BLSSignature{}, invalid(c.name, op, http.StatusOK, "malformed attestation", err)
	}
	if att.Epoch != want.Epoch || att.Round != want.Round || att.Node != want.Node {
		return att, crypto.BLSSignature{}, invalid(c.name, op, http.StatusOK, "attestation of another challenge",
			fmt.Errorf("epoch %d round %d node %s, want epoch %d round %d node %s", att.Epoch, att.Round, att.Node, want.Epoch, want.Round, want.Node))
	}
	sig, err := c.verifySignature(&sm)
	if err != nil {
		return att, crypto.BLSSignature{}, invalid(c.name, op, http.StatusOK, "bad attestation signature", err)
	}
	return att, sig, nil
}
