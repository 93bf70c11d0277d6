package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpserver"
	"github.com/floelabs/floe/internal/controlplane/cptest"
	"github.com/floelabs/floe/internal/controlplane/embedded"
	"github.com/floelabs/floe/internal/crypto"
)

func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return out.String() + errb.String(), code
}

func TestGenesisWalletInfo(t *testing.T) {
	dir := t.TempDir()
	// genesis
	out, code := runCLI(t, "chain", "genesis", "--shards", "10", "--chain-id", "x", "--faucet", "0x"+strings.Repeat("ab", 32), "--faucet-amount", "5")
	var g controlplane.Genesis
	if code != 0 || json.Unmarshal([]byte(out), &g) != nil || g.Params.NShards != 10 || g.Params.ChainID != "x" || g.Balances[0].Amount != 5 {
		t.Fatalf("genesis (%d): %s", code, out)
	}
	if _, code := runCLI(t, "chain", "genesis", "--shards", "3"); code != 1 {
		t.Fatalf("3 shards accepted: %d", code)
	}
	if _, code := runCLI(t, "chain", "genesis", "--faucet", "nope"); code != 2 {
		t.Fatalf("bad faucet: %d", code)
	}

	// A control plane whose first user is the funded wallet.
	nw := cptest.NewNetwork(10, 4, 1, 1000, nil, time.Now())
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
	funded := filepath.Join(dir, "funded.json")
	if err := writeKeyFile(funded, nw.Users[0]); err != nil {
		t.Fatal(err)
	}

	out, code = runCLI(t, "wallet", "new", "--out", filepath.Join(dir, "w.json"), "--json")
	var created struct {
		Address string `json:"address"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &created) != nil {
		t.Fatalf("wallet new (%d): %s", code, out)
	}
	if _, code := runCLI(t, "wallet", "new", "--out", filepath.Join(dir, "w.json")); code != 1 {
		t.Fatal("wallet new overwrote a key file")
	}
	out, code = runCLI(t, "wallet", "transfer", "--url", url, "--key", funded, "--to", created.Address, "--amount", "250", "--json")
	if code != 0 || !strings.Contains(out, `"height"`) {
		t.Fatalf("transfer (%d): %s", code, out)
	}
	out, code = runCLI(t, "wallet", "transfer", "--url", url, "--key", funded, "--to", created.Address, "--amount", "5000")
	if code != 1 || !strings.Contains(out, "insufficient_balance") {
		t.Fatalf("overdraft (%d): %s", code, out)
	}
	out, code = runCLI(t, "wallet", "balance", "--url", url, "--key", filepath.Join(dir, "w.json"), "--json")
	var bal struct {
		Balance uint64 `json:"balance"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &bal) != nil || bal.Balance != 250 {
		t.Fatalf("balance (%d): %s", code, out)
	}
	checkWalletConfig(t, dir, url, funded, created.Address)
	out, code = runCLI(t, "info", "--url", url, "--json")
	var info infoOutput
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil || info.EpochInfo.CurrentEpoch != 1 || info.StorageInfo.NNodes != 4 ||
		info.StorageInfo.NShards != 10 || info.PriceInfo.StoragePricePerUnitSize != 10 || info.CommitteeInfo != nil {
		t.Fatalf("info (%d): %s", code, out)
	}
	out, code = runCLI(t, "info", "all", "--url", url, "--json")
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil || info.CommitteeInfo == nil || len(info.CommitteeInfo.CurrentStorageNodes) != 4 ||
		info.BFTInfo == nil || info.BFTInfo.QuorumThreshold != 7 {
		t.Fatalf("info all (%d): %s", code, out)
	}
	out, code = runCLI(t, "info", "--url", url)
	if code != 0 || !strings.Contains(out, "Current epoch: 1") || !strings.Contains(out, "Price per encoded storage unit: 0.00000001 FLOE") {
		t.Fatalf("info text (%d): %s", code, out)
	}
	out, code = runCLI(t, "info", "committee", "--url", url)
	if code != 0 || !strings.Contains(out, "Committee of epoch 1") {
		t.Fatalf("info committee text (%d): %s", code, out)
	}
	out, code = runCLI(t, "info", "challenges", "--url", url, "--json")
	var ch infoChallengeOutput
	if code != 0 || json.Unmarshal([]byte(out), &ch) != nil || ch.RoundsPerEpoch != 1 || ch.SamplesPerNode != 100 {
		t.Fatalf("info challenges (%d): %s", code, out)
	}
	out, code = runCLI(t, "info", "challenges", "--url", url)
	if code != 0 || !strings.Contains(out, "Storage challenges\nRounds per epoch: 1\nSamples per node per round: 100") {
		t.Fatalf("info challenges text (%d): %s", code, out)
	}
	if got := shardRanges([]uint16{0, 1, 2, 5, 7, 8}); got != "0-2,5,7-8 (6)" {
		t.Fatalf("shardRanges = %q", got)
	}
}

// checkWalletConfig: without --url and --key the wallet commands take the control plane and
// the wallet from the client configuration, found as for store and read (--config given
// before or after the command, $XDG_CONFIG_HOME/floe); they print FLOE with the base units,
// and --json the raw base units.
func checkWalletConfig(t *testing.T, dir, url, funded, other string) {
	t.Helper()
	xdg := filepath.Join(dir, "xdg")
	if err := os.MkdirAll(filepath.Join(xdg, "floe"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(xdg, "floe", "client_config.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf("control_plane_url: %s\nwallet: %s\n", url, funded)), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := readKeyFile(funded)
	if err != nil {
		t.Fatal(err)
	}
	balance := func(args ...string) uint64 {
		t.Helper()
		out, code := runCLI(t, append(args, "--json")...)
		var b struct {
			Address string `json:"address"`
			Balance uint64 `json:"balance"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &b) != nil {
			t.Fatalf("%v (%d): %s", args, code, out)
		}
		return b.Balance
	}
	start := balance("--config", cfgPath, "wallet", "balance")
	if got := balance("wallet", "balance", "--config", cfgPath); got != start || start < 100 {
		t.Fatalf("balance with --config after the command: %d, before it %d (want at least 100)", got, start)
	}
	t.Setenv("XDG_CONFIG_HOME", xdg)
	out, code := runCLI(t, "wallet", "balance")
	want := fmt.Sprintf("address: %s\nbalance: %s (%d base units)\n", k.Address(), humanCost(start), start)
	if code != 0 || !strings.HasPrefix(out, want) || !strings.Contains(out, " FLOE (") {
		t.Fatalf("wallet balance from $XDG_CONFIG_HOME (%d): %q, want %q", code, out, want)
	}
	before := balance("wallet", "balance", "--address", other)
	out, code = runCLI(t, "wallet", "transfer", "--to", other, "--amount", "0.0000001FLOE")
	if code != 0 || !strings.HasPrefix(out, "transferred 0.0000001 FLOE (100 base units) to "+other) {
		t.Fatalf("transfer from the configuration's wallet (%d): %s", code, out)
	}
	if after := balance("wallet", "balance", "--address", other); after != before+100 {
		t.Fatalf("recipient balance %d after a transfer of 100, was %d", after, before)
	}
	if got := balance("wallet", "balance"); got != start-100 {
		t.Fatalf("sender balance %d, want %d", got, start-100)
	}
	if out, code := runCLI(t, "wallet", "transfer", "--to", other, "--amount", "1.5"); code != 2 || !strings.Contains(out, "1.5FLOE") {
		t.Fatalf("an amount without a unit that is not base units (%d): %s", code, out)
	}
	// An account the control plane has never seen holds nothing.
	fresh, err := crypto.GenerateAccountKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := balance("wallet", "balance", "--address", fresh.Address().String()); got != 0 {
		t.Fatalf("unknown account: %d", got)
	}
}
