package devnet

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	nodeapi "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/durablefile"
	"github.com/floelabs/floe/internal/freeaddr"
	"github.com/floelabs/floe/internal/nodetls"
)

// Nodes join and leave a devnet while it runs (floe devnet add-node / remove-node). Both are
// usually run by another floe process than the one running the devnet: they change
// setup.json and devnet.json under a lock (membersLock in DIR), and the running devnet picks
// the change up in Refresh, which it calls every few seconds: it adopts the node added (the
// add-node process started it), and stops a removed node once the committee no longer needs
// it (its stake is withdrawn, it is in no current or selected committee, and the change to
// the current epoch is done). A devnet started again keeps its added nodes and does not
// start the removed ones it stopped.

// addedNode is a node added after genesis (setup.json); it is node Nodes+k for the k-th.
type addedNode struct {
	Name        string `json:"name"`
	Addr        string `json:"addr"`
	MetricsAddr string `json:"metrics_addr"`
	Stake       uint64 `json:"stake"`
	// JoinEpoch is the first epoch its stake counts in.
	JoinEpoch uint32 `json:"join_epoch"`
}

// removedNode is a node whose stake was withdrawn by remove-node (setup.json).
type removedNode struct {
	Name string `json:"name"`
	// LeaveEpoch is the first epoch its stake no longer counts in.
	LeaveEpoch uint32 `json:"leave_epoch"`
	// Stopped: the committee no longer needed it and the devnet stopped it; it is not started
	// again.
	Stopped bool `json:"stopped,omitempty"`
}

// membersLock is the lock file (flock) serialising membership changes and devnet.json writes.
const membersLock = "members.lock"

// lockMembers takes the devnet's membership lock, waiting for it unless try is set (then it
// reports false if another process holds it).
func (n *Network) lockMembers(try bool) (unlock func(), ok bool, err error) {
	f, err := os.OpenFile(n.path(membersLock), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("devnet: lock: %w", err)
	}
	how := syscall.LOCK_EX
	if try {
		how |= syscall.LOCK_NB
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		if try && errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("devnet: lock: %w", err)
	}
	return func() { f.Close() }, true, nil // closing releases the lock
}

// lockSynced takes the membership lock (waiting for it) and n.mu, and then the membership
// changes other processes made (syncMembersLocked); unlock releases both.
func (n *Network) lockSynced() (unlock func(), err error) {
	unlockMembers, _, err := n.lockMembers(false)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	if err := n.syncMembersLocked(); err != nil {
		n.mu.Unlock()
		unlockMembers()
		return nil, err
	}
	return func() {
		n.mu.Unlock()
		unlockMembers()
	}, nil
}

func (n *Network) writeSetup() error {
	sb, err := json.MarshalIndent(&n.setup, "", "  ")
	if err != nil {
		return err
	}
	return durablefile.WriteFile(n.path(SetupFile), append(sb, '\n'), 0o644)
}

// reloadSetup reads setup.json again and takes the membership changes other processes made.
func (n *Network) reloadSetup() error {
	b, err := os.ReadFile(n.path(SetupFile))
	if err != nil {
		return fmt.Errorf("devnet: %w", err)
	}
	var s setup
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("devnet: %s: %w", n.path(SetupFile), err)
	}
	n.setup.Added, n.setup.Removed = s.Added, s.Removed
	return nil
}

// nodeCount is the number of nodes ever in the network (genesis and added).
func (s *setup) nodeCount() int { return s.Nodes + len(s.Added) }

// nodeAddrs returns node i's listen and metrics addresses.
func (s *setup) nodeAddrs(i int) (addr, metrics string) {
	if i < s.Nodes {
		return s.NodeAddrs[i], s.NodeMetricsAddrs[i]
	}
	a := s.Added[i-s.Nodes]
	return a.Addr, a.MetricsAddr
}

func (s *setup) removal(name string) *removedNode {
	for i := range s.Removed {
		if s.Removed[i].Name == name {
			return &s.Removed[i]
		}
	}
	return nil
}

// usedAddrs lists every address the network has reserved.
func (s *setup) usedAddrs() map[string]bool {
	used := map[string]bool{s.ChainAddr: true, s.MetricsAddr: true}
	for i := range s.nodeCount() {
		a, m := s.nodeAddrs(i)
		used[a], used[m] = true, true
	}
	return used
}

// addNodeProcess appends node i's process and devnet.json entry (i == len(n.nodes)).
func (n *Network) addNodeProcess(i int) {
	d := n.nodeDir(i)
	addr, metrics := n.setup.nodeAddrs(i)
	name := nodeName(i)
	p := &Process{Name: name, LogPath: n.path("logs", name+".log"),
		Argv: []string{n.cfg.Binary, "node", "run", "--config", filepath.Join(d, "node.json"), "--name", name, "--listen", addr,
			"--data-dir", filepath.Join(d, "data"), "--key-dir", filepath.Join(d, "keys"),
			"--control-plane", n.info.ControlPlane, "--metrics-listen", metrics}}
	n.nodes = append(n.nodes, p)
	n.info.Nodes = append(n.info.Nodes, NodeInfo{Name: name, URL: "https://" + addr, Metrics: "http://" + metrics + "/metrics",
		DataDir: filepath.Join(d, "data"), KeyDir: filepath.Join(d, "keys"), LogPath: p.LogPath, Argv: p.Argv})
	n.markMembership(i)
}

// markMembership copies node i's join and leave epochs from the set-up to devnet.json.
func (n *Network) markMembership(i int) {
	ni := &n.info.Nodes[i]
	if i >= n.setup.Nodes {
		ni.JoinEpoch = n.setup.Added[i-n.setup.Nodes].JoinEpoch
	}
	if r := n.setup.removal(ni.Name); r != nil {
		ni.LeaveEpoch, ni.Stopped = r.LeaveEpoch, r.Stopped
	}
}

// nodeConfigJSON is every devnet node's node.json: nodes collect expired slivers every
// quarter epoch (at most every 10 minutes), so that short epochs show expiry promptly, and
// run Go code on CPUs / nodes threads at most (at least 1): the nodes share this machine's
// cores, and a node with as many threads as the machine has cores spends more of them
// handing work between threads (on the 2-core machine of BenchmarkStoreCPU, 10 nodes:
// see the README's "Store CPU").
func (n *Network) nodeConfigJSON() []byte {
	cfg := map[string]int64{"gc_interval_secs": max(1, min(600, n.setup.EpochMs/4000)),
		"gomaxprocs": int64(max(1, runtime.NumCPU()/max(1, n.setup.nodeCount())))}
	maps.Copy(cfg, n.cfg.NodeOptions)
	b, err := json.Marshal(cfg)
	if err != nil {
		panic(err) // a map of numbers always marshals
	}
	return append(b, '\n')
}

// Joined tells what AddNode did and what happens next.
type Joined struct {
	Name   string `json:"name"`
	NodeID string `json:"nodeId"`
	URL    string `json:"url"`
	Pid    int    `json:"pid"`
	Stake  uint64 `json:"stake"`
	// JoinEpoch is the first epoch whose committee counts its stake; JoinsAt when that epoch
	// starts at the earliest.
	JoinEpoch uint32    `json:"joinEpoch"`
	JoinsAt   time.Time `json:"joinsAt"`
	// SelectedAt is when the committee of JoinEpoch is selected (its voting end), at the
	// earliest; zero if it is selected already.
	SelectedAt time.Time `json:"selectedAt,omitzero"`
}

// Leaving tells what RemoveNode did and what happens next.
type Leaving struct {
	Name string `json:"name"`
	// LeaveEpoch is the first epoch whose committee no longer counts its stake; LeavesAt when
	// it starts at the earliest. The devnet stops the node once the change to LeaveEpoch is
	// done (EpochChangeDone), when the new owners of its shards hold them.
	LeaveEpoch uint32    `json:"leaveEpoch"`
	LeavesAt   time.Time `json:"leavesAt"`
	// Withdrawn is the stake withdrawn (base units).
	Withdrawn uint64 `json:"withdrawn"`
	// StoppedNow: the node was in no committee, so it is stopped at once.
	StoppedNow bool `json:"stoppedNow,omitempty"`
}

// epochStart returns when epoch e starts at the earliest, from the control plane's info.
func epochStart(in *cpapi.Info, e uint32) time.Time {
	if e <= in.Epoch {
		return time.UnixMilli(in.EpochStartMs).UTC()
	}
	return time.UnixMilli(in.NextEpochMs).Add(time.Duration(e-in.Epoch-1) * time.Duration(in.Params.EpochDurationMs) * time.Millisecond).UTC()
}

// AddNode adds a storage node to the network: it makes its keys, funds its account from the
// devnet's wallet, registers it and stakes stake base units from its account (floe node
// register --stake), starts its process and waits until it answers, and records it in
// setup.json and devnet.json. Its stake counts from the first epoch whose committee is not
// selected yet: it joins the committee then. The network's control plane must be running.
func (n *Network) AddNode(ctx context.Context, stake uint64) (*Joined, error) {
	if stake == 0 {
		stake = nodeStake
	}
	unlock, err := n.lockSynced()
	if err != nil {
		return nil, err
	}
	defer unlock()
	i := len(n.nodes)
	name := nodeName(i)
	used := n.setup.usedAddrs()
	var addrs []string
	for len(addrs) < 2 {
		free, err := freeaddr.Reserve(2)
		if err != nil {
			return nil, err
		}
		for _, a := range free {
			if !used[a] && len(addrs) < 2 {
				used[a] = true
				addrs = append(addrs, a)
			}
		}
	}
	d := n.nodeDir(i)
	// A directory left by an add-node that failed before recording the node is started over.
	if err := os.RemoveAll(d); err != nil {
		return nil, err
	}
	out, err := n.runFloe(ctx, "node", "keygen", "--dir", filepath.Join(d, "keys"))
	if err != nil {
		return nil, err
	}
	var keys struct {
		NetworkPublicKey string `json:"network_public_key"`
		Address          string `json:"address"`
	}
	if err := json.Unmarshal(out, &keys); err != nil {
		return nil, fmt.Errorf("devnet: floe node keygen: %w", err)
	}
	pub, err := hex.DecodeString(keys.NetworkPublicKey)
	if err != nil {
		return nil, fmt.Errorf("devnet: network key: %w", err)
	}
	cp := n.info.ControlPlane
	if _, err := n.runFloe(ctx, "wallet", "transfer", "--url", cp, "--key", n.path(walletFile),
		"--to", keys.Address, "--amount", fmt.Sprint(stake)); err != nil {
		return nil, err
	}
	if err := durablefile.WriteFile(filepath.Join(d, "node.json"), n.nodeConfigJSON(), 0o644); err != nil {
		return nil, err
	}
	// The proof of possession is signed for the current epoch: with short epochs on a loaded
	// machine the epoch may change before the registration is included, and it is refused
	// (nothing is registered); register again then.
	for try := 0; ; try++ {
		out, err = n.runFloe(ctx, "node", "register", "--config", filepath.Join(d, "node.json"), "--name", name, "--listen", addrs[0],
			"--key-dir", filepath.Join(d, "keys"), "--control-plane", cp, "--stake", fmt.Sprintf("%dbase", stake))
		if err == nil {
			break
		}
		if try == 2 || !strings.Contains(err.Error(), "proof of possession") {
			return nil, err
		}
		n.log.Warn("registering an added node again: the epoch changed under its proof of possession", "name", name, "err", err)
	}
	var reg struct {
		NodeID    string `json:"node_id"`
		JoinEpoch uint32 `json:"stake_activation_epoch"`
	}
	if err := json.Unmarshal(out, &reg); err != nil {
		return nil, fmt.Errorf("devnet: floe node register: %w", err)
	}
	n.setup.Added = append(n.setup.Added, addedNode{Name: name, Addr: addrs[0], MetricsAddr: addrs[1], Stake: stake, JoinEpoch: reg.JoinEpoch})
	if err := n.writeSetup(); err != nil {
		return nil, err
	}
	n.addNodeProcess(i)
	n.log.Info("node added", "name", name, "node_id", reg.NodeID, "join_epoch", reg.JoinEpoch)
	rctx, cancel := context.WithTimeout(ctx, n.cfg.ReadyTimeout)
	defer cancel()
	if err := n.startNode(rctx, i, pub); err != nil {
		return nil, err
	}
	if err := n.writeInfoLocked(); err != nil {
		return nil, err
	}
	j := &Joined{Name: name, NodeID: reg.NodeID, URL: n.info.Nodes[i].URL, Pid: n.nodes[i].Pid(), Stake: stake, JoinEpoch: reg.JoinEpoch}
	in, err := cpclient.New(cp, nil).Info(ctx)
	if err != nil {
		return j, err
	}
	j.JoinsAt = epochStart(in, reg.JoinEpoch)
	if !in.NextCommitteeSelected || reg.JoinEpoch > in.Epoch+1 {
		j.SelectedAt = time.UnixMilli(in.VotingEndMs).UTC()
		if reg.JoinEpoch > in.Epoch+1 {
			// Voting end of the next epoch: its middle at the earliest.
			j.SelectedAt = time.UnixMilli(in.NextEpochMs + in.Params.EpochDurationMs/2).UTC()
		}
	}
	return j, nil
}

// RemoveNode withdraws the stake that node name's own account has on it (every stake of a
// genesis node, and what add-node staked): it leaves the committee at the first epoch not
// selected yet. The devnet stops its process once the committee no longer needs it
// (Refresh); a node in no committee is stopped at once.
func (n *Network) RemoveNode(ctx context.Context, name string) (*Leaving, error) {
	unlock, err := n.lockSynced()
	if err != nil {
		return nil, err
	}
	defer unlock()
	i := slices.IndexFunc(n.nodes, func(p *Process) bool { return p.Name == name })
	if i < 0 {
		return nil, fmt.Errorf("devnet: no node named %q", name)
	}
	if r := n.setup.removal(name); r != nil {
		return nil, fmt.Errorf("devnet: %s was removed already (it leaves at epoch %d)", name, r.LeaveEpoch)
	}
	cp := cpclient.New(n.info.ControlPlane, nil)
	nodes, err := cp.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	k := slices.IndexFunc(nodes, func(nd cpapi.Node) bool { return nd.Name == name })
	if k < 0 {
		return nil, fmt.Errorf("devnet: %s is not registered", name)
	}
	// A genesis node's account holds its stake but no tokens, and the control plane takes
	// transactions only from accounts that exist: one base unit from the devnet's wallet
	// makes it.
	if _, err := n.runFloe(ctx, "wallet", "transfer", "--url", n.info.ControlPlane, "--key", n.path(walletFile),
		"--to", nodes[k].Owner.String(), "--amount", "1"); err != nil {
		return nil, err
	}
	out, err := n.runFloe(ctx, "withdraw-stake", "--config", n.path(ClientConfigFile), "--wallet", filepath.Join(n.nodeDir(i), "keys", "account.key"),
		"--node", name, "--json")
	if err != nil {
		return nil, err
	}
	var res struct {
		Withdrawn []struct {
			Amount      uint64 `json:"amount"`
			ReturnEpoch uint32 `json:"return_epoch"`
			Returned    bool   `json:"returned"`
		} `json:"withdrawn"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("devnet: floe withdraw-stake: %w", err)
	}
	in, err := cp.Info(ctx)
	if err != nil {
		return nil, err
	}
	l := &Leaving{Name: name, LeaveEpoch: in.Epoch}
	for _, w := range res.Withdrawn {
		l.Withdrawn += w.Amount
		if !w.Returned {
			l.LeaveEpoch = max(l.LeaveEpoch, w.ReturnEpoch)
		}
	}
	l.LeavesAt = epochStart(in, l.LeaveEpoch)
	n.setup.Removed = append(n.setup.Removed, removedNode{Name: name, LeaveEpoch: l.LeaveEpoch})
	if err := n.writeSetup(); err != nil {
		return nil, err
	}
	n.markMembership(i)
	n.log.Info("node removed", "name", name, "leave_epoch", l.LeaveEpoch)
	stopped, err := n.stopDepartedLocked(ctx)
	l.StoppedNow = slices.Contains(stopped, name)
	if err != nil {
		return l, err
	}
	return l, n.writeInfoLocked()
}

// syncMembersLocked takes the membership changes made by other processes (setup.json): it
// adds the processes of nodes added since (adopting them if they run), and marks removals.
func (n *Network) syncMembersLocked() error {
	if err := n.reloadSetup(); err != nil {
		return err
	}
	for i := len(n.nodes); i < n.setup.nodeCount(); i++ {
		n.addNodeProcess(i)
		p := n.nodes[i]
		if n.setup.removal(p.Name) != nil && n.setup.removal(p.Name).Stopped {
			continue
		}
		if pid := findRunning(p.Argv); pid != 0 && p.Adopt(pid) == nil {
			n.log.Info("adopted a node added by floe devnet add-node", "name", p.Name, "pid", pid)
		}
	}
	for i := range n.info.Nodes {
		n.markMembership(i)
		if n.info.Nodes[i].Stopped {
			n.retired[n.nodes[i]] = true
		}
	}
	return nil
}

// stopDepartedLocked stops every removed node the committee no longer needs: its leave epoch
// has started, it is in neither the current committee nor a selected next one, the change to
// the current epoch is done, and it has deleted the shards it lost (its health shows no owned
// or read-only shard). It returns the names stopped.
func (n *Network) stopDepartedLocked(ctx context.Context) ([]string, error) {
	var pending []*removedNode
	for i := range n.setup.Removed {
		if !n.setup.Removed[i].Stopped {
			pending = append(pending, &n.setup.Removed[i])
		}
	}
	if len(pending) == 0 {
		return nil, nil
	}
	cp := cpclient.New(n.info.ControlPlane, nil)
	in, err := cp.Info(ctx)
	if err != nil {
		return nil, err
	}
	if in.EpochChange != nil && in.EpochChange.State == cpapi.EpochStateChangeSync {
		return nil, nil
	}
	members := map[string]bool{}
	cur, err := cp.CurrentCommittee(ctx)
	if err != nil {
		return nil, err
	}
	committees := []*cpapi.Committee{cur}
	if in.NextCommitteeSelected {
		next, err := cp.NextCommittee(ctx)
		switch {
		case errors.Is(err, cpclient.ErrNotFound):
			// The epoch changed between Info and this query (the next committee is the
			// current one now): nothing is decided this time, the next Refresh looks again.
			return nil, nil
		case err != nil:
			return nil, err
		}
		committees = append(committees, next)
	}
	for _, c := range committees {
		for _, m := range c.Members {
			members[m.Name] = true
		}
	}
	nodes, err := cp.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	var stopped []string
	for _, r := range pending {
		if in.Epoch < r.LeaveEpoch || members[r.Name] {
			continue
		}
		i := slices.IndexFunc(n.nodes, func(p *Process) bool { return p.Name == r.Name })
		if i >= 0 && (n.nodes[i].Running() || findRunning(n.nodes[i].Argv) != 0) {
			// It deletes the shards it lost once the change is done: wait until its health
			// shows none left (owned or read-only).
			k := slices.IndexFunc(nodes, func(nd cpapi.Node) bool { return nd.Name == r.Name })
			if k < 0 {
				continue
			}
			h, err := nodeHealth(ctx, n.info.Nodes[i].URL, nodes[k].NetworkPublicKey)
			if err != nil || h.ShardSummary.Owned > 0 || h.ShardSummary.ReadOnly > 0 {
				n.log.Debug("removed node still holds shards", "name", r.Name, "err", err, "shards", h.ShardSummary)
				continue
			}
		}
		if i >= 0 {
			p := n.nodes[i]
			n.retired[p] = true
			if !p.Running() {
				// Started by another floe process (add-node, or the devnet when this one is
				// attached): adopt it to stop it.
				if pid := findRunning(p.Argv); pid != 0 {
					_ = p.Adopt(pid)
				}
			}
			if err := p.Stop(10 * time.Second); err != nil && !errors.Is(err, ErrNotRunning) {
				return stopped, err
			}
			n.info.Nodes[i].Pid = 0
		}
		r.Stopped = true
		if i >= 0 {
			n.markMembership(i)
		}
		stopped = append(stopped, r.Name)
		n.log.Info("stopped a removed node: the committee no longer needs it", "name", r.Name, "epoch", in.Epoch)
	}
	if len(stopped) > 0 {
		return stopped, n.writeSetup()
	}
	return nil, nil
}

// Refresh applies membership changes: it adopts the nodes another process added (floe devnet
// add-node), stops the removed nodes the committee no longer needs, and rewrites devnet.json.
// A running devnet calls it every few seconds; it returns what it did (node names added and
// stopped). If another process holds the membership lock, it does nothing this time.
func (n *Network) Refresh(ctx context.Context) (added, stopped []string, err error) {
	unlock, ok, err := n.lockMembers(true)
	if err != nil || !ok {
		return nil, nil, err
	}
	defer unlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	before := len(n.nodes)
	if err := n.syncMembersLocked(); err != nil {
		return nil, nil, err
	}
	for _, p := range n.nodes[before:] {
		added = append(added, p.Name)
	}
	stopped, err = n.stopDepartedLocked(ctx)
	if err != nil {
		return added, stopped, err
	}
	if len(added) > 0 || len(stopped) > 0 {
		return added, stopped, n.writeInfoLocked()
	}
	return nil, nil, nil
}

// Attach opens a devnet that another process runs (for floe devnet add-node / remove-node):
// membership changes made through it are recorded in setup.json and devnet.json, and the
// running devnet adopts or stops the processes.
func Attach(ctx context.Context, dir, binary string, log *slog.Logger) (*Network, error) {
	if _, err := os.Stat(filepath.Join(dir, SetupFile)); err != nil {
		return nil, fmt.Errorf("devnet: no devnet in %s (start one with floe devnet --dir %s): %w", dir, dir, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, InfoFile))
	if err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	var info Info
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("devnet: %s: %w", filepath.Join(dir, InfoFile), err)
	}
	n, err := Open(ctx, Config{Dir: dir, Binary: binary, Logger: log})
	if err != nil {
		return nil, err
	}
	n.attached = true
	// devnet.json is the running devnet's: keep its processes and addresses.
	info.Nodes = info.Nodes[:min(len(info.Nodes), len(n.info.Nodes))]
	info.Nodes = append(info.Nodes, n.info.Nodes[len(info.Nodes):]...)
	n.info = info
	return n, nil
}

// nodeHealth fetches a node's health over TLS pinned to its network key.
func nodeHealth(ctx context.Context, url string, pub []byte) (nodeapi.ServiceHealthInfo, error) {
	var zero nodeapi.ServiceHealthInfo
	tlsCfg, err := nodetls.ClientConfig(pub, "127.0.0.1", nil)
	if err != nil {
		return zero, err
	}
	tr := &http.Transport{TLSClientConfig: tlsCfg}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+nodeapi.RouteHealth, nil)
	if err != nil {
		return zero, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return zero, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return zero, fmt.Errorf("devnet: %s health: %s", url, resp.Status)
	}
	var h nodeapi.Success[nodeapi.ServiceHealthInfo]
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&h); err != nil {
		return zero, fmt.Errorf("devnet: %s health: %w", url, err)
	}
	return h.Success.Data, nil
}
