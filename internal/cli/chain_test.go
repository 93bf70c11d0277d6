package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/crypto"
)

// buildFloe builds the floe binary into a temporary directory.
func buildFloe(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "floe")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/floelabs/floe/cmd/floe").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startChain runs `floe chain run` and returns the process and its API client.
func startChain(t *testing.T, bin, dir string) (*exec.Cmd, *cpclient.Client) {
	t.Helper()
	cmd := exec.Command(bin, "chain", "run", "--dir", dir, "--listen", "127.0.0.1:0", "--json")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the ready line: %v", err)
	}
	var ready chainReady
	if err := json.Unmarshal([]byte(line), &ready); err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}
	return cmd, cpclient.New(ready.URL, nil)
}

func kill9(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	cmd.Wait()
}

// TestChainRunSurvivesKill9 kills a real `floe chain run` with SIGKILL, right after an
// acknowledged transaction and while transactions are in flight, and checks after each restart
// that every acknowledged transaction is applied and no token was created or lost.
func TestChainRunSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the floe binary")
	}
	bin := buildFloe(t)
	dir := filepath.Join(t.TempDir(), "chain")
	cmd, c := startChain(t, bin, dir)
	ctx := context.Background()
	faucet, err := readKeyFile(filepath.Join(dir, "faucet.json"))
	if err != nil {
		t.Fatal(err)
	}
	params, err := c.Params(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const nUsers = 4
	var users []*crypto.AccountKey
	for i := 0; i < nUsers; i++ {
		k, _ := crypto.GenerateAccountKey(nil)
		users = append(users, k)
		if _, err := c.Execute(ctx, params.ChainID, faucet, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(k.Address()), Amount: 1_000_000}}); err != nil {
			t.Fatal(err)
		}
	}
	// Kill right after an acknowledged transaction.
	inc, err := c.Execute(ctx, params.ChainID, faucet, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(users[0].Address()), Amount: 7}})
	if err != nil {
		t.Fatal(err)
	}
	kill9(t, cmd)
	cmd, c = startChain(t, bin, dir)
	if acc, err := c.Account(ctx, cpapi.Address(users[0].Address())); err != nil || acc.Balance != 1_000_007 {
		t.Fatalf("after kill -9: balance %+v %v; acknowledged in block %d", acc, err, inc.Height)
	}
	if info, _ := c.Info(ctx); info.Height != inc.Height {
		t.Fatalf("height %d after restart, last acknowledged block %d", info.Height, inc.Height)
	}

	acked := make([]uint64, nUsers) // acknowledged transactions per user
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		var stop atomic.Bool
		var sent atomic.Int64
		for u := 0; u < nUsers; u++ {
			wg.Add(1)
			go func(u int) {
				defer wg.Done()
				for !stop.Load() {
					_, err := c.Execute(ctx, params.ChainID, users[u], cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(users[(u+1)%nUsers].Address()), Amount: 1}})
					if err != nil {
						return // the process died
					}
					acked[u]++
					sent.Add(1)
				}
			}(u)
		}
		deadline := time.Now().Add(5 * time.Second)
		for sent.Load() < int64(20*(round+1)) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		kill9(t, cmd)
		stop.Store(true)
		wg.Wait()
		cmd, c = startChain(t, bin, dir)
		var total uint64
		for u, k := range users {
			acc, err := c.Account(ctx, cpapi.Address(k.Address()))
			if err != nil {
				t.Fatal(err)
			}
			if acc.Nonce < acked[u] {
				t.Fatalf("round %d: user %d has nonce %d after restart but %d transactions were acknowledged", round, u, acc.Nonce, acked[u])
			}
			acked[u] = acc.Nonce // unacknowledged in-flight ones may have landed too
			total += acc.Balance
		}
		fa, _ := c.Account(ctx, cpapi.Address(faucet.Address()))
		if total+fa.Balance != devnetFaucetAmount {
			t.Fatalf("round %d: supply %d, want %d", round, total+fa.Balance, uint64(devnetFaucetAmount))
		}
		if sent.Load() == 0 {
			t.Fatalf("round %d: no transaction was acknowledged before the kill", round)
		}
	}
}

// TestParsePorts: --p2p-ports takes exactly one distinct port per validator and refuses
// anything else with a usage error.
func TestParsePorts(t *testing.T) {
	got, err := parsePorts("20001, 20002,20003", 3)
	if err != nil || len(got) != 3 || got[0] != 20001 || got[1] != 20002 || got[2] != 20003 {
		t.Fatalf("parsePorts: %v, %v", got, err)
	}
	if got, err := parsePorts("", 4); err != nil || got != nil {
		t.Fatalf("empty list: %v, %v", got, err)
	}
	for _, bad := range []string{"20001,20002", "20001,20001,20002", "20001,x,20002", "0,1,2", "1,2,70000"} {
		var ue *usageError
		if _, err := parsePorts(bad, 3); !errors.As(err, &ue) {
			t.Errorf("parsePorts(%q): %v, want a usage error", bad, err)
		}
	}
}
