package client

import (
	"context"
	"errors"
	"fmt"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
)

// Transfer gives a blob object or storage resource owned by the wallet to another account.
func (c *Client) Transfer(ctx context.Context, objectID ObjectID, to Address) error {
	_, err := c.execute(ctx, "transfer", cpapi.Op{TransferObject: &cpapi.TransferObjectOp{ObjectID: cpapi.ObjectID(objectID), To: cpapi.Address(to)}})
	if errors.Is(err, cpclient.ErrNotFound) {
		return fmt.Errorf("%w: %w", ErrBlobNotFound, err)
	}
	return err
}
