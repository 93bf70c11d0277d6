package nodeclient

import (
	"context"
	"net/http"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/internal/protocol"
)

// SyncShard posts a signed sync-shard request (protocol.SignSyncShard) to the shard's previous
// owner and returns the page of slivers it answers, decoded but not verified (the caller
// checks each against its blob's metadata). limit bounds the response's bytes.
func (c *Client) SyncShard(ctx context.Context, signed []byte, limit int64) ([]protocol.ShardSliver, error) {
	req := c.request(http.MethodPost, api.RouteSyncShard)
	req.Body, req.ContentType, req.Limit = Bytes(signed), api.ContentTypeOctetStream, limit
	resp, err := c.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	defer resp.Release()
	items, err := protocol.DecodeSyncShardResponse(resp.Body)
	if err != nil {
		return nil, invalid(c.name, "POST "+req.Path, resp.Status, "malformed sync shard response", err)
	}
	// The slivers alias the pooled body: copy them out before it is released.
	for i := range items {
		items[i].Sliver.Data = append([]byte(nil), items[i].Sliver.Data...)
	}
	return items, nil
}
