package devnet

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/freeaddr"
)

// floeCmd runs the floe binary and decodes its JSON output into out.
func floeCmd(t *testing.T, ctx context.Context, bin string, out any, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("floe %v: %v\n%s", args, err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("floe %v: %v\n%s", args, err, stdout.String())
	}
}

func readInfoFile(t *testing.T, dir string) Info {
	t.Helper()
	path := filepath.Join(dir, InfoFile)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("devnet.json mode %v, want 0600 (it holds the S3 secret)", st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var info Info
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	return info
}

func nodeEntry(t *testing.T, info Info, name string) NodeInfo {
	t.Helper()
	i := slices.IndexFunc(info.Nodes, func(n NodeInfo) bool { return n.Name == name })
	if i < 0 {
		t.Fatalf("devnet.json has no %s", name)
	}
	return info.Nodes[i]
}

func inCommittee(c *cpapi.Committee, name string) bool {
	return slices.ContainsFunc(c.Members, func(m cpapi.Member) bool { return m.Name == name && len(m.Shards) > 0 })
}

// floe devnet add-node and remove-node, run as separate processes against a running devnet
// (4 nodes x 40 shards, 8 s epochs): the added node runs, is adopted by the devnet and joins
// the committee at the epoch add-node announced; the removed node leaves at the epoch
// remove-node announced and the devnet stops it only once that change is done; a devnet
// started again on the same directory runs the added node and not the removed one.
func TestAddRemoveNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds floe and runs a devnet")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "floe")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/floelabs/floe/cmd/floe").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	netDir := filepath.Join(dir, "net")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := Config{Dir: netDir, Nodes: 4, Shards: 40, Addr: freeaddr.For(t), S3Addr: "off", EpochDuration: 8 * time.Second, Binary: bin, Logger: log}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	n, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { n.Stop() }()
	cp := cpclient.New(n.Info().ControlPlane, nil)

	var joined Joined
	floeCmd(t, ctx, bin, &joined, "devnet", "add-node", "--dir", netDir, "--stake", "0.002", "--json")
	if joined.Name != "node-04" || joined.Pid == 0 || joined.Stake != 2_000_000 || joined.JoinEpoch == 0 {
		t.Fatalf("add-node: %+v", joined)
	}
	e := nodeEntry(t, readInfoFile(t, netDir), "node-04")
	if e.Pid != joined.Pid || e.JoinEpoch != joined.JoinEpoch || e.URL != joined.URL || len(e.Argv) == 0 {
		t.Fatalf("devnet.json entry %+v, add-node said %+v", e, joined)
	}
	added, _, err := n.Refresh(ctx)
	if err != nil || !slices.Equal(added, []string{"node-04"}) {
		t.Fatalf("Refresh: added %v, %v", added, err)
	}
	t.Logf("add-node: %s joins at epoch %d (starts at the earliest at %s)", joined.Name, joined.JoinEpoch, joined.JoinsAt.Format(time.TimeOnly))
	if n.NodeCount() != 5 || n.Node(4).Pid() != joined.Pid || !n.Node(4).Adopted() {
		t.Fatalf("the running devnet did not adopt node-04 (pid %d, want %d)", n.Node(4).Pid(), joined.Pid)
	}

	// node-04 is in the committee from its join epoch on.
	for {
		c, err := cp.CurrentCommittee(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Epoch >= joined.JoinEpoch {
			if !inCommittee(c, "node-04") {
				t.Fatalf("epoch %d: node-04 is not in the committee (joins at %d)", c.Epoch, joined.JoinEpoch)
			}
			break
		}
		if inCommittee(c, "node-04") {
			t.Fatalf("epoch %d: node-04 in the committee before its join epoch %d", c.Epoch, joined.JoinEpoch)
		}
		sleepCtx(t, ctx, 500*time.Millisecond)
	}

	in, err := cp.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var leaving Leaving
	floeCmd(t, ctx, bin, &leaving, "devnet", "remove-node", "--dir", netDir, "node-01", "--json")
	if leaving.Name != "node-01" || leaving.Withdrawn != nodeStake || leaving.LeaveEpoch <= in.Epoch || leaving.StoppedNow {
		t.Fatalf("remove-node: %+v (epoch %d)", leaving, in.Epoch)
	}
	t.Logf("remove-node in epoch %d: node-01 leaves at epoch %d", in.Epoch, leaving.LeaveEpoch)
	if e := nodeEntry(t, readInfoFile(t, netDir), "node-01"); e.LeaveEpoch != leaving.LeaveEpoch || e.Stopped || e.Pid == 0 {
		t.Fatalf("devnet.json entry after remove-node: %+v", e)
	}
	// The devnet stops node-01 only after the change to its leave epoch is done.
	for {
		_, stopped, err := n.Refresh(ctx)
		if err != nil {
			t.Fatal(err)
		}
		in, err := cp.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(stopped, "node-01") {
			c, err := cp.CurrentCommittee(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if in.Epoch < leaving.LeaveEpoch || inCommittee(c, "node-01") || in.EpochChange == nil || in.EpochChange.State == cpapi.EpochStateChangeSync {
				t.Fatalf("node-01 stopped in epoch %d (leaves at %d), change state %+v", in.Epoch, leaving.LeaveEpoch, in.EpochChange)
			}
			t.Logf("node-01 stopped in epoch %d, change state %s", in.Epoch, in.EpochChange.State)
			break
		}
		if !n.Node(1).Running() {
			t.Fatalf("node-01 stopped before the devnet stopped it (epoch %d)", in.Epoch)
		}
		sleepCtx(t, ctx, 500*time.Millisecond)
	}
	if n.Node(1).Running() {
		t.Fatal("node-01 still runs")
	}
	if e := nodeEntry(t, readInfoFile(t, netDir), "node-01"); !e.Stopped || e.Pid != 0 {
		t.Fatalf("devnet.json entry of the stopped node: %+v", e)
	}
	if _, err := n.RemoveNode(ctx, "node-01"); err == nil {
		t.Fatal("removing node-01 twice succeeded")
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}

	// Started again: node-04 runs, node-01 does not.
	n2, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { n2.Stop() }()
	if n2.NodeCount() != 5 || !n2.Node(4).Running() || n2.Node(1).Running() || !n2.Node(0).Running() {
		t.Fatalf("restarted: %d nodes, node-04 running %v, node-01 running %v", n2.NodeCount(), n2.Node(4).Running(), n2.Node(1).Running())
	}
	info := readInfoFile(t, netDir)
	if e := nodeEntry(t, info, "node-04"); e.Pid != n2.Node(4).Pid() || e.JoinEpoch != joined.JoinEpoch {
		t.Fatalf("restarted devnet.json node-04: %+v", e)
	}
	if e := nodeEntry(t, info, "node-01"); e.Pid != 0 || !e.Stopped {
		t.Fatalf("restarted devnet.json node-01: %+v", e)
	}
}

func sleepCtx(t *testing.T, ctx context.Context, d time.Duration) {
	t.Helper()
	select {
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	case <-time.After(d):
	}
}
