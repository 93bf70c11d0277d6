package storagenode

import "net/http"

// syncShardBodyLimit bounds a sync-shard request: a BCS SignedMessage of the 55-byte request
// message and a 96-byte signature, with room to spare.
const syncShardBodyLimit = 1 << 10

// syncShard serves POST /v1/migrate/sync_shard: a page of a shard this node owned in the
// previous epoch, to the member that owns it now (see engine/migrate.go). The signature is
// checked against the BLS key of the shard's owner in the requested epoch, so the
// Authorization header Walrus sends (the requester's public key) is not needed.
func (n *Node) syncShard(w http.ResponseWriter, r *http.Request) error {
	if err := checkOctetStream(r); err != nil {
		return err
	}
	body, err := n.readBody(w, r, syncShardBodyLimit)
	if err != nil {
		return err
	}
	out, err := n.e.Migrations.SyncShard(r.Context(), body)
	if err != nil {
		return err
	}
	return writeBCS(w, out)
}
