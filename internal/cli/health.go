package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	snapi "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/nodeclient"
)

func healthCommand() command {
	return command{name: "health", run: runHealth,
		summary: "health of storage nodes: health --committee | --active-set | --node-ids ID... | --node-urls HOST:PORT... [--detail]"}
}

// The output of `health --json`, as Walrus's ServiceHealthInfoOutput.

type healthOutput struct {
	HealthInfo []nodeHealthOutput `json:"healthInfo"`
	// LatestSeq is the control plane's latest block height (Walrus: the latest Sui checkpoint).
	LatestSeq *uint64 `json:"latestSeq"`
}

type nodeHealthOutput struct {
	NodeID           string       `json:"nodeId"`
	NodeURL          string       `json:"nodeUrl"`
	NodeName         string       `json:"nodeName"`
	NetworkPublicKey []byte       `json:"networkPublicKey"`
	HealthInfo       healthResult `json:"healthInfo"`
}

// healthResult is a Rust Result in serde's form: {"Ok": ...} or {"Err": "..."}.
type healthResult struct {
	Ok  *serviceHealthInfo `json:"Ok,omitempty"`
	Err *string            `json:"Err,omitempty"`
}

type serviceHealthInfo struct {
	Uptime        rustDuration `json:"uptime"`
	Epoch         uint32       `json:"epoch"`
	PublicKey     string       `json:"publicKey"`
	NodeStatus    string       `json:"nodeStatus"`
	EventProgress struct {
		Persisted                 uint64  `json:"persisted"`
		Pending                   uint64  `json:"pending"`
		HighestFinishedEventIndex *uint64 `json:"highestFinishedEventIndex"`
	} `json:"eventProgress"`
	ShardSummary struct {
		Owned            int `json:"owned"`
		OwnedShardStatus struct {
			Unknown    int `json:"unknown"`
			Ready      int `json:"ready"`
			InTransfer int `json:"inTransfer"`
			InRecovery int `json:"inRecovery"`
		} `json:"ownedShardStatus"`
		ReadOnly int `json:"readOnly"`
	} `json:"shardSummary"`
	ShardDetail                    *shardDetail `json:"shardDetail,omitempty"`
	LatestCheckpointSequenceNumber *uint64      `json:"latestCheckpointSequenceNumber,omitempty"`
}

type shardDetail struct {
	Owned []shardHealth `json:"owned"`
	Other []shardHealth `json:"other"`
}

type shardHealth struct {
	Shard  uint16 `json:"shard"`
	Status string `json:"status"`
}

// walrusHealth converts a node's /v1/health answer (Floe's node adds fields Walrus's lacks;
// they are left out).
func walrusHealth(h *snapi.ServiceHealthInfo) *serviceHealthInfo {
	out := &serviceHealthInfo{Uptime: rustDuration{Secs: h.Uptime.Secs, Nanos: h.Uptime.Nanos}, Epoch: h.Epoch,
		PublicKey: h.PublicKey, NodeStatus: h.NodeStatus}
	out.EventProgress.Persisted, out.EventProgress.Pending = h.EventProgress.Persisted, h.EventProgress.Pending
	hf := h.EventProgress.HighestFinishedEventIndex
	out.EventProgress.HighestFinishedEventIndex = &hf
	s := &out.ShardSummary
	s.Owned, s.ReadOnly = h.ShardSummary.Owned, h.ShardSummary.ReadOnly
	s.OwnedShardStatus.Unknown, s.OwnedShardStatus.Ready = h.ShardSummary.OwnedShardStatus.Unknown, h.ShardSummary.OwnedShardStatus.Ready
	s.OwnedShardStatus.InTransfer, s.OwnedShardStatus.InRecovery = h.ShardSummary.OwnedShardStatus.InTransfer, h.ShardSummary.OwnedShardStatus.InRecovery
	if h.ShardDetail != nil {
		d := &shardDetail{Owned: []shardHealth{}, Other: []shardHealth{}}
		for _, sh := range h.ShardDetail.Owned {
			d.Owned = append(d.Owned, shardHealth{Shard: sh.Shard, Status: sh.Status})
		}
		out.ShardDetail = d
	}
	out.LatestCheckpointSequenceNumber = h.LatestCheckpointSequenceNumber
	return out
}

func runHealth(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "health")
	cf := addClientFlags(fs)
	rpcURL := fs.String("rpc-url", "", "control plane URL (default: the configuration's)")
	nodeIDs := listVar(fs, "node IDs of the nodes to ask", true, "node-ids", "node-id")
	nodeURLs := listVar(fs, "network addresses (host:port) of registered nodes to ask", true, "node-urls", "node-url")
	committee := fs.Bool("committee", false, "ask every node of the current committee")
	activeSet := fs.Bool("active-set", false, "ask every registered node")
	detail := fs.Bool("detail", false, "include every shard's status")
	sortBy := fs.String("sort-by", "status", "sort by status, id, name or url")
	desc := fs.Bool("desc", false, "sort in descending order")
	concurrent := fs.Int("concurrent-requests", 60, "nodes asked at once")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	n := 0
	for _, set := range []bool{len(*nodeIDs) > 0, len(*nodeURLs) > 0, *committee, *activeSet} {
		if set {
			n++
		}
	}
	if n != 1 {
		return usagef("exactly one of --node-ids, --node-urls, --committee or --active-set must be given")
	}
	switch *sortBy {
	case "status", "id", "name", "url":
	default:
		return usagef("--sort-by %q: status, id, name or url", *sortBy)
	}
	if *concurrent <= 0 {
		return usagef("--concurrent-requests must be positive")
	}
	url := *rpcURL
	if url == "" {
		cfg, _, err := loadClientConfig(cf)
		if err != nil {
			return err
		}
		url = cfg.ControlPlaneURL
	}
	cp := cpclient.New(url, nil)
	var latest *uint64
	if in, err := cp.Info(ctx); err == nil {
		latest = &in.Height
	}
	registered, err := cp.Nodes(ctx)
	if err != nil {
		return err
	}
	var nodes []cpapi.Node
	switch {
	case *activeSet:
		nodes = registered
	case *committee:
		com, err := cp.CurrentCommittee(ctx)
		if err != nil {
			return err
		}
		for _, m := range com.Members {
			for _, r := range registered {
				if r.ID == m.NodeID {
					nodes = append(nodes, r)
				}
			}
		}
	case len(*nodeIDs) > 0:
		for _, s := range *nodeIDs {
			id, err := cpapi.ParseObjectID(s)
			if err != nil {
				return usagef("node ID %q: %v", s, err)
			}
			found := false
			for _, r := range registered {
				if r.ID == id {
					nodes, found = append(nodes, r), true
				}
			}
			if !found {
				return fmt.Errorf("node ID %s is not a registered storage node", id)
			}
		}
	default:
		for _, u := range *nodeURLs {
			found := false
			for _, r := range registered {
				if r.NetworkAddress == u {
					nodes, found = append(nodes, r), true
				}
			}
			if !found {
				return fmt.Errorf("node URL %s not found in the active set; try to query it by node ID", u)
			}
		}
	}
	pool := nodeclient.NewPool(nodeclient.Options{Timeout: 10 * time.Second})
	defer pool.Close()
	out := healthOutput{HealthInfo: make([]nodeHealthOutput, len(nodes)), LatestSeq: latest}
	sem := make(chan struct{}, *concurrent)
	var wg sync.WaitGroup
	for i, nd := range nodes {
		out.HealthInfo[i] = nodeHealthOutput{NodeID: nd.ID.String(), NodeURL: nd.NetworkAddress, NodeName: nd.Name, NetworkPublicKey: nd.NetworkPublicKey}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res := &out.HealthInfo[i].HealthInfo
			c, err := pool.Client(nodeclient.Node{Name: nd.Name, Address: nd.NetworkAddress, NetworkKey: nd.NetworkPublicKey, BLSKey: crypto.BLSPublicKey(nd.BLSPublicKey)})
			if err != nil {
				msg := err.Error()
				res.Err = &msg
				return
			}
			h, err := c.Health(ctx, *detail)
			if err != nil {
				msg := err.Error()
				res.Err = &msg
				return
			}
			res.Ok = walrusHealth(&h)
		}()
	}
	wg.Wait()
	sortHealth(out.HealthInfo, *sortBy, *desc)
	if *cf.asJSON {
		return printJSON(e.stdout, out)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "Idx\tName\tNode ID\tAddress\t# Shards (Ready / Owned)\tStatus")
	owned, ready := 0, 0
	for i, h := range out.HealthInfo {
		if h.HealthInfo.Ok == nil {
			msg := *h.HealthInfo.Err
			if len(msg) > 40 {
				msg = msg[:37] + "..."
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\tN/A\t%s\n", i, h.NodeName, h.NodeID, h.NodeURL, msg)
			continue
		}
		s := h.HealthInfo.Ok.ShardSummary
		owned += s.Owned
		ready += s.OwnedShardStatus.Ready
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d / %d\t%s\n", i, h.NodeName, h.NodeID, h.NodeURL, s.OwnedShardStatus.Ready, s.Owned, h.HealthInfo.Ok.NodeStatus)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nTotal nodes: %d\nOwned shards: %d (%d ready)\n", len(out.HealthInfo), owned, ready)
	if latest != nil {
		fmt.Fprintf(e.stdout, "Control plane height: %d\n", *latest)
	}
	return nil
}

func sortHealth(hs []nodeHealthOutput, by string, desc bool) {
	status := func(h nodeHealthOutput) string {
		if h.HealthInfo.Ok != nil {
			return "0" + strings.ToLower(h.HealthInfo.Ok.NodeStatus)
		}
		return "1" + *h.HealthInfo.Err
	}
	key := func(h nodeHealthOutput) string {
		switch by {
		case "id":
			return h.NodeID
		case "name":
			return strings.ToLower(h.NodeName)
		case "url":
			return strings.ToLower(h.NodeURL)
		}
		return status(h) + "\x00" + strings.ToLower(h.NodeName)
	}
	sort.SliceStable(hs, func(i, j int) bool {
		if desc {
			return key(hs[i]) > key(hs[j])
		}
		return key(hs[i]) < key(hs[j])
	})
}
