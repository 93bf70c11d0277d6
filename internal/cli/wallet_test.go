package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpserver"
	"github.com/floelabs/floe/internal/controlplane/cptest"
	"github.com/floelabs/floe/internal/controlplane/embedded"
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
