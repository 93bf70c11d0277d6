package cli

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cometbft"
	"github.com/floelabs/floe/internal/controlplane/cpserver"
	"github.com/floelabs/floe/internal/controlplane/cptest"
	"github.com/floelabs/floe/internal/controlplane/embedded"
)

func TestParseHumanUnits(t *testing.T) {
	tokens := map[string]uint64{"1": 1e9, "1.5": 1.5e9, "1.5 FLOE": 1.5e9, "0.000000001floe": 1, "250base": 250, "250 base": 250, "0": 0}
	for in, want := range tokens {
		if got, err := parseTokens(in); err != nil || got != want {
			t.Errorf("parseTokens(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "0.0000000001", "1e3", "1/2", "abc", "18446744074 FLOE", "1.5base"} {
		if _, err := parseTokens(bad); err == nil {
			t.Errorf("parseTokens(%q) accepted", bad)
		}
	}
	sizes := map[string]uint64{"1024": 1024, "2TiB": 2 << 40, "1.5 GiB": 3 << 29, "10GB": 1e10, "7B": 7}
	for in, want := range sizes {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1XB", "-1GiB", "GiB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
	coms := map[string]uint16{"10%": 1000, "12.5%": 1250, "0%": 0, "100%": 10000, "250bp": 250}
	for in, want := range coms {
		if got, err := parseCommission(in); err != nil || got != want {
			t.Errorf("parseCommission(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"10", "101%", "0.001%", "-1%", "10001bp"} {
		if _, err := parseCommission(bad); err == nil {
			t.Errorf("parseCommission(%q) accepted", bad)
		}
	}
	if got := percent(1250); got != "12.5%" {
		t.Errorf("percent(1250) = %q", got)
	}
}

// TestMembershipCommands drives the staking and node-operator commands against an embedded
// control plane: stake on a registered node (joining at the next voting end), node info, set
// votes and commission (owner only), withdraw (at once before the stake is counted, at an
// epoch change after), set-validator with a CometBFT validator home.
func TestMembershipCommands(t *testing.T) {
	dir := t.TempDir()
	nw := cptest.NewNetwork(10, 4, 2, 1e15, nil, time.Now())
	nw.Genesis.Params.EpochDurationMs = time.Hour.Milliseconds()
	chain, err := embedded.Open(filepath.Join(dir, "chain"), &embedded.Options{Genesis: nw.Genesis, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: cpserver.New(chain, nil), ReadHeaderTimeout: time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String()
	// The staker's wallet (user 0) and the owner of genesis node 0.
	if err := writeKeyFile(filepath.Join(dir, "staker.json"), nw.Users[0]); err != nil {
		t.Fatal(err)
	}
	owner := filepath.Join(dir, "owner.json")
	if err := writeKeyFile(owner, nw.NodeOwner[0]); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "client_config.yaml")
	if err := os.WriteFile(cfg, []byte("control_plane_url: "+url+"\nwallet: staker.json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Fund the owner, so that it can send transactions.
	if out, code := runCLI(t, "wallet", "transfer", "--url", url, "--key", filepath.Join(dir, "staker.json"), "--to", nw.NodeOwner[0].Address().String(), "--amount", "1000000"); code != 0 {
		t.Fatalf("fund owner: %s", out)
	}

	// Stake 2.5 FLOE on node-1 by name.
	out, code := runCLI(t, "stake", "--config", cfg, "--node", "node-1", "--amount", "2.5", "--json")
	var st stakeOutput
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Amount != 2.5e9 || st.ActivationEpoch != 2 || st.NodeName != "node-1" || st.StartsAt == "" {
		t.Fatalf("stake (%d): %s", code, out)
	}
	out, code = runCLI(t, "stake", "--config", cfg, "--node", "node-1", "--amount", "1 FLOE")
	if code != 0 || !strings.Contains(out, "staked 1 FLOE with node node-1") || !strings.Contains(out, "It counts from epoch 2") {
		t.Fatalf("stake text (%d): %s", code, out)
	}
	if out, code := runCLI(t, "stake", "--config", cfg, "--node", "nope", "--amount", "1"); code != 1 || !strings.Contains(out, "no node ID or name") {
		t.Fatalf("stake on an unknown node (%d): %s", code, out)
	}
	if out, code := runCLI(t, "stake", "--config", cfg, "--node", "node-1", "--amount", "0"); code != 2 {
		t.Fatalf("zero stake (%d): %s", code, out)
	}

	// node info: node-1 is active with 100 base units of genesis stake now, 3.5 FLOE more next.
	out, code = runCLI(t, "node", "info", "--config", cfg, "--node", "node-1", "--json")
	var ni client.NodeInfo
	if code != 0 || json.Unmarshal([]byte(out), &ni) != nil || ni.Status != client.NodeActive || ni.Stake != 100 || ni.NextStake != 100+3.5e9 || len(ni.Stakes) != 3 {
		t.Fatalf("node info (%d): %s", code, out)
	}
	out, code = runCLI(t, "node", "info", "--config", cfg, "--node", "node-1")
	if code != 0 || !strings.Contains(out, "active in epoch 1") || !strings.Contains(out, "3.5000001 FLOE next epoch") {
		t.Fatalf("node info text (%d): %s", code, out)
	}
	// Its storage challenges (TestNodeInfoChallengeLines has the lines of every outcome): the
	// round opened at genesis awaits its seed (nobody gave a share), no epoch is settled yet.
	if !regexp.MustCompile(`\nchallenges +no settled epoch yet \(1 round of 100 samples per epoch\)\n`).MatchString(out) ||
		!regexp.MustCompile(`\nround 1\.0 +awaiting the seed\n`).MatchString(out) {
		t.Fatalf("node info challenge lines: %s", out)
	}
	out, _ = runCLI(t, "node", "info", "--config", cfg, "--node", "node-1", "--json")
	var withCh nodeInfoOutput
	if err := json.Unmarshal([]byte(out), &withCh); err != nil || withCh.Challenges == nil || len(withCh.Challenges.Rounds) != 1 ||
		withCh.Challenges.Rounds[0].Status != cpapi.ChallengeAwaitingSeed || withCh.Challenges.SamplesPerNode != 100 || withCh.Challenges.Record != nil {
		t.Fatalf("node info JSON challenges (%v): %s", err, out)
	}
	out, code = runCLI(t, "node", "info", "--config", cfg)
	if code != 0 || strings.Count(out, "active") != 4 {
		t.Fatalf("node table (%d): %s", code, out)
	}

	// Votes and commission: only the owner.
	if out, code := runCLI(t, "node", "set-commission", "--config", cfg, "--node", "node-0", "--commission", "5%"); code != 1 || !strings.Contains(out, "does not own") {
		t.Fatalf("set-commission by a non-owner (%d): %s", code, out)
	}
	out, code = runCLI(t, "node", "set-commission", "--config", cfg, "--wallet", owner, "--node", "node-0", "--commission", "12.5%")
	if code != 0 || !strings.Contains(out, "12.5% (was 10%)") {
		t.Fatalf("set-commission (%d): %s", code, out)
	}
	out, code = runCLI(t, "node", "set-votes", "--config", cfg, "--wallet", owner, "--node", "node-0", "--storage-price", "20base", "--capacity", "2TiB")
	if code != 0 || !strings.Contains(out, "capacity 2.0 TiB") {
		t.Fatalf("set-votes (%d): %s", code, out)
	}
	out, code = runCLI(t, "node", "info", "--config", cfg, "--node", "node-0", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &ni) != nil || ni.Commission != 1250 || ni.Votes != (client.Votes{StoragePrice: 20, WritePrice: 5, Capacity: 2 << 40}) {
		t.Fatalf("node-0 after its owner's changes (%d): %s", code, out)
	}

	// Withdraw: the stakes are not counted in any selected committee yet, so they return at once.
	out, code = runCLI(t, "withdraw-stake", "--config", cfg, "--node", "node-1", "--json")
	var wd withdrawOutput
	if code != 0 || json.Unmarshal([]byte(out), &wd) != nil || len(wd.Withdrawn) != 2 || !wd.Withdrawn[0].Returned {
		t.Fatalf("withdraw-stake (%d): %s", code, out)
	}
	if out, code := runCLI(t, "withdraw-stake", "--config", cfg, "--node", "node-1"); code != 1 || !strings.Contains(out, "no stake") {
		t.Fatalf("second withdraw (%d): %s", code, out)
	}
	if out, code := runCLI(t, "withdraw-stake", "--config", cfg); code != 2 {
		t.Fatalf("withdraw without a target (%d): %s", code, out)
	}

	// set-validator with a CometBFT home's key.
	v, err := cometbft.JoinNetwork(cometbft.JoinConfig{Home: filepath.Join(dir, "validator"), Genesis: writeCometGenesis(t, dir, nw.Genesis),
		Peers: []string{"0000000000000000000000000000000000000000@127.0.0.1:1"}, P2PAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	out, code = runCLI(t, "node", "set-validator", "--config", cfg, "--wallet", owner, "--node", "node-0", "--home", v.Home)
	if code != 0 || !strings.Contains(out, "validator key") {
		t.Fatalf("set-validator (%d): %s", code, out)
	}
	var n0 cpapi.Node
	chain.View(func(s *controlplane.State, _ controlplane.Hash) {
		for _, n := range s.Nodes() {
			if n.Name == "node-0" {
				n0 = n
			}
		}
	})
	if string(n0.ValidatorKey) != string(v.PublicKey) {
		t.Fatalf("node-0's validator key %x, want %x", n0.ValidatorKey, v.PublicKey)
	}
	out, code = runCLI(t, "info", "committee", "--url", url)
	if code != 0 || !strings.Contains(out, "Epoch change: EpochChangeDone") || !strings.Contains(out, "0.0000001 FLOE") || !strings.Contains(out, "is selected at") {
		t.Fatalf("info committee (%d): %s", code, out)
	}
}

// writeCometGenesis writes a CometBFT genesis for g (via a one-validator network) and returns
// its path.
func writeCometGenesis(t *testing.T, dir string, g *controlplane.Genesis) string {
	t.Helper()
	cp := *g
	vals, err := cometbft.InitNetwork(cometbft.NetworkConfig{Dir: filepath.Join(dir, "net"), Validators: 1, Genesis: &cp})
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(vals[0].Home, "config", "genesis.json")
}
