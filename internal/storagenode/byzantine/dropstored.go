package byzantine

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/nodestore"
	"github.com/floelabs/floe/redstuff"
)

// DropStored is the mode "drop-stored P" (also written drop-stored=P; P defaults to 10): the
// node silently deletes P% of the slivers it stores, a fixed pseudo-random choice per sliver
// (so what it dropped stays dropped), from a background pass every dropInterval, and does not
// recover them; it answers everything else honestly. Only storage challenges can tell.
const DropStored Mode = "drop-stored"

// dropInterval is how often a drop-stored node looks for new slivers to drop.
const dropInterval = 2 * time.Second

// parseDropStored parses "drop-stored", "drop-stored=P" or "drop-stored P" (0 < P <= 100).
func parseDropStored(s string) (Mode, bool, error) {
	rest, ok := strings.CutPrefix(s, string(DropStored))
	if !ok {
		return None, false, nil
	}
	if rest == "" {
		return DropStored, true, nil
	}
	if rest[0] != '=' && rest[0] != ' ' {
		return None, false, nil
	}
	p, err := strconv.ParseFloat(strings.TrimSpace(rest[1:]), 64)
	if err != nil || !(p > 0 && p <= 100) {
		return None, true, fmt.Errorf("byzantine: drop-stored: percentage %q not in (0, 100]", rest[1:])
	}
	return Mode(fmt.Sprintf("%s=%g", DropStored, p)), true, nil
}

// DropPercent returns the percentage of slivers a drop-stored mode drops (0 for another mode).
func (m Mode) DropPercent() float64 {
	rest, ok := strings.CutPrefix(string(m), string(DropStored))
	switch {
	case !ok:
		return 0
	case rest == "":
		return 10
	}
	p, err := strconv.ParseFloat(rest[1:], 64)
	if err != nil {
		return 0
	}
	return p
}

// dropper deletes a fixed share of a node's slivers.
type dropper struct {
	store *nodestore.Store
	log   *slog.Logger
	// seed makes the choice the node's own (its public key).
	seed crypto.BLSPublicKey
	// per10k is the share dropped, in hundredths of a percent.
	per10k  uint64
	dropped int
}

// Drops reports whether a drop-stored node with key pub that drops percent% of its slivers
// drops the given sliver (the fixed choice its background pass makes).
func Drops(pub crypto.BLSPublicKey, percent float64, shard uint16, id blob.ID, a redstuff.Axis) bool {
	d := dropper{seed: pub, per10k: uint64(percent * 100)}
	return d.drops(shard, id, a)
}

func (d *dropper) drops(shard uint16, id blob.ID, a redstuff.Axis) bool {
	h := sha256.New()
	h.Write([]byte("floe byzantine drop-stored"))
	h.Write(d.seed[:])
	h.Write(id[:])
	var b [3]byte
	binary.BigEndian.PutUint16(b[:2], shard)
	b[2] = byte(a)
	h.Write(b[:])
	return binary.BigEndian.Uint64(h.Sum(nil)[:8])%10_000 < d.per10k
}

// run drops the chosen slivers every dropInterval until ctx ends.
func (d *dropper) run(ctx context.Context) {
	t := time.NewTicker(dropInterval)
	defer t.Stop()
	for {
		if err := d.pass(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("BYZANTINE drop-stored: pass", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pass deletes the chosen slivers the store holds.
func (d *dropper) pass(ctx context.Context) error {
	shards, err := d.store.Shards(ctx)
	if err != nil {
		return err
	}
	before := d.dropped
	for _, shard := range shards {
		for _, a := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
			var start blob.ID
			for {
				page, err := d.store.ShardSlivers(ctx, shard, a, start, 256)
				if err != nil {
					return err
				}
				for _, s := range page {
					if !d.drops(shard, s.BlobID, a) {
						continue
					}
					if err := d.store.DeleteSliver(ctx, shard, s.BlobID, a); err != nil && !errors.Is(err, nodestore.ErrNotFound) {
						return err
					}
					d.dropped++
				}
				if len(page) < 256 {
					break
				}
				start = next(page[len(page)-1].BlobID)
			}
		}
	}
	if d.dropped > before {
		d.log.Warn("BYZANTINE drop-stored: slivers deleted", "now", d.dropped-before, "total", d.dropped)
	}
	return nil
}

// next returns the blob ID after id (the start of the next page).
func next(id blob.ID) blob.ID {
	for i := len(id) - 1; i >= 0; i-- {
		id[i]++
		if id[i] != 0 {
			break
		}
	}
	return id
}
