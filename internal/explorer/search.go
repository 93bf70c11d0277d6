package explorer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	cpapi "github.com/floelabs/floe/api/controlplane"
	snapi "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/nodeclient"
	"github.com/floelabs/floe/redstuff"
)

// Errors of searches.
var (
	// ErrBadQuery: the search is not a blob ID, an object ID or an address.
	ErrBadQuery = errors.New("explorer: not a blob ID, object ID or address")
	// ErrNotFound: the control plane knows no such object.
	ErrNotFound = errors.New("explorer: not found")
)

// resolve turns a search into the path of its page (under the prefix).
func (x *Explorer) resolve(ctx context.Context, q string) (string, error) {
	q = strings.TrimSpace(q)
	if id, err := blob.ParseID(q); err == nil {
		return "/blob/" + id.String(), nil
	}
	if strings.HasPrefix(q, "0x") || strings.HasPrefix(q, "0X") {
		id, err := cpapi.ParseObjectID(strings.ToLower(q))
		if err != nil {
			return "", fmt.Errorf("%w: %q: %v", ErrBadQuery, q, err)
		}
		if _, err := x.cp.Object(ctx, id); err == nil {
			return "/object/" + id.String(), nil
		} else if !errors.Is(err, cpclient.ErrNotFound) {
			return "", err
		}
		// Addresses and object IDs look alike: what is not an object is an owner.
		return "/owner/" + id.String(), nil
	}
	return "", fmt.Errorf("%w: %q (a blob ID is 43 characters of URL-safe base64; object IDs and addresses are 0x and 64 hex digits)", ErrBadQuery, q)
}

// BlobView is what the blob page shows.
type BlobView struct {
	BlobID  string            `json:"blobId"`
	Status  *cpapi.BlobStatus `json:"status"`
	Objects []cpapi.Blob      `json:"objects"`
	// Epoch is the current epoch, to tell how long the blob lives on; EndEpoch is the latest
	// end of its objects' storage (the blob is stored until that epoch starts).
	Epoch    uint32 `json:"epoch"`
	EndEpoch uint32 `json:"endEpoch"`
	// Shards is the scan of which shards hold the blob's primary sliver (nil if the blob
	// is not certified or the scan failed; ShardsError says why).
	Shards      *ShardScan `json:"shards,omitempty"`
	ShardsError string     `json:"shardsError,omitempty"`
}

// ShardScan says, shard by shard, whether the node holding it in the current committee
// holds the blob's primary sliver of that shard, as its sliver status route answers.
type ShardScan struct {
	At      time.Time `json:"at"`
	Epoch   uint32    `json:"epoch"`
	NShards int       `json:"nShards"`
	// Readable shards answered "stored"; Missing answered otherwise; Unreachable did not
	// answer.
	Readable    int `json:"readable"`
	Missing     int `json:"missing"`
	Unreachable int `json:"unreachable"`
	// Need is how many primary slivers a read needs (n - 2f).
	Need    int          `json:"need"`
	PerNode []NodeShards `json:"perNode"`
}

// NodeShards is one node's part of a ShardScan.
type NodeShards struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Shards      int    `json:"shards"`
	Readable    int    `json:"readable"`
	Missing     int    `json:"missing"`
	Unreachable int    `json:"unreachable"`
	Error       string `json:"error,omitempty"`
}

// blobView reads a blob's status and objects, and scans its shards if it is certified.
func (x *Explorer) blobView(ctx context.Context, id blob.ID) (*BlobView, error) {
	v := &BlobView{BlobID: id.String()}
	var info *cpapi.Info
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { v.Status, err = x.cp.BlobStatus(gctx, id); return err })
	g.Go(func() (err error) { v.Objects, err = x.cp.BlobObjects(gctx, id); return err })
	g.Go(func() (err error) { info, err = x.cp.Info(gctx); return err })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	v.Epoch = info.Epoch
	if v.Objects == nil {
		v.Objects = []cpapi.Blob{}
	}
	certified := false
	for _, o := range v.Objects {
		certified = certified || o.Certified
		v.EndEpoch = max(v.EndEpoch, o.Storage.End)
	}
	if v.Status.Status == cpapi.StatusNonexistent || !certified {
		return v, nil
	}
	scan, err := x.scanShards(ctx, id)
	if err != nil {
		v.ShardsError = err.Error()
	} else {
		v.Shards = scan
	}
	return v, nil
}

// scanCache keeps recent shard scans, so that a page refreshed by many viewers scans once.
type scanCache struct {
	ttl  time.Duration
	size int
	sf   singleflight.Group

	mu      sync.Mutex
	entries map[blob.ID]*ShardScan
	order   []blob.ID
}

func newScanCache(size int, ttl time.Duration) *scanCache {
	return &scanCache{ttl: ttl, size: size, entries: map[blob.ID]*ShardScan{}}
}

func (c *scanCache) get(id blob.ID, now time.Time) *ShardScan {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.entries[id]; s != nil && now.Sub(s.At) < c.ttl {
		return s
	}
	return nil
}

func (c *scanCache) put(id blob.ID, s *ShardScan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[id]; !ok {
		c.order = append(c.order, id)
	}
	c.entries[id] = s
	for len(c.order) > c.size {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
}

// scanShards asks, for every shard, the node holding it whether it stores the blob's primary
// sliver of that shard (cached for a few seconds; concurrent requests for one blob share one
// scan).
func (x *Explorer) scanShards(ctx context.Context, id blob.ID) (*ShardScan, error) {
	if s := x.shardScans.get(id, x.cfg.Now()); s != nil {
		return s, nil
	}
	v, err, _ := x.shardScans.sf.Do(id.String(), func() (any, error) {
		// The scan outlives one viewer's request: it is shared.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		s, err := x.doScan(sctx, id)
		if err == nil {
			x.shardScans.put(id, s)
		}
		return s, err
	})
	if err != nil {
		return nil, err
	}
	return v.(*ShardScan), nil
}

func (x *Explorer) doScan(ctx context.Context, id blob.ID) (*ShardScan, error) {
	committee, err := x.cp.CurrentCommittee(ctx)
	if err != nil {
		return nil, err
	}
	n := committee.NShards
	params, err := redstuff.NewParams(n)
	if err != nil {
		return nil, err
	}
	registered, err := x.cp.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	scan := &ShardScan{At: x.cfg.Now(), Epoch: committee.Epoch, NShards: n, Need: params.PrimarySource,
		PerNode: make([]NodeShards, len(committee.Members))}
	var g errgroup.Group
	g.SetLimit(16)
	for i, m := range committee.Members {
		ns := &scan.PerNode[i]
		ns.ID, ns.Name, ns.Shards = m.NodeID.String(), m.Name, len(m.Shards)
		ref, _ := nodeRef(m.NodeID.String(), committee, registered)
		g.Go(func() error {
			x.scanNode(ctx, id, n, ref, m.Shards, ns)
			return nil
		})
	}
	g.Wait()
	for _, ns := range scan.PerNode {
		scan.Readable += ns.Readable
		scan.Missing += ns.Missing
		scan.Unreachable += ns.Unreachable
	}
	return scan, nil
}

// scanNode checks a node's shards, four at a time; once the node fails to answer, its
// remaining shards count as unreachable.
func (x *Explorer) scanNode(ctx context.Context, id blob.ID, n int, ref nodeclient.Node, shards []uint16, ns *NodeShards) {
	c, err := x.nodes.Client(ref)
	if err != nil {
		ns.Unreachable, ns.Error = len(shards), err.Error()
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(4)
	for _, s := range shards {
		g.Go(func() error {
			if ctx.Err() != nil {
				mu.Lock()
				ns.Unreachable++
				mu.Unlock()
				return nil
			}
			st, err := c.SliverStatus(ctx, id, blob.PairIndex(id, n, int(s)), redstuff.Primary)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && strings.EqualFold(string(st), string(snapi.Stored)):
				ns.Readable++
			case err == nil, !nodeclient.Unresponsive(err):
				// "nonexistent" or "buffered", or a refusal (not registered, shard not
				// assigned): the node answered, and it cannot serve the sliver.
				ns.Missing++
			default:
				ns.Unreachable++
				if ns.Error == "" && ctx.Err() == nil {
					ns.Error = err.Error()
				}
				if nodeclient.Unresponsive(err) {
					cancel()
				}
			}
			return nil
		})
	}
	g.Wait()
}
