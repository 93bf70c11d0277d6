package devnet

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/controlplane/cptest"
)

// TestValidatorSet runs the control plane as four `floe chain run --home` validator
// processes: a transaction through one is seen by all; one killed (-9), the others go on;
// restarted with its argv, it catches up.
func TestValidatorSet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds floe and starts four validator processes")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "floe")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/floelabs/floe/cmd/floe").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	net := cptest.NewNetwork(10, 4, 1, 1e12, nil, time.Now().Add(-time.Minute))
	g, err := json.Marshal(net.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	genesisPath := filepath.Join(dir, GenesisFile)
	if err := os.WriteFile(genesisPath, g, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := InitValidators(ctx, bin, dir, genesisPath, 4, nil); err != nil {
		t.Fatal(err)
	}
	vs, err := OpenValidators(bin, dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := vs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := vs.Stop(30 * time.Second); err != nil {
			t.Error(err)
		}
		for i := range vs.Len() {
			if err := vs.Process(i).Err(); err != nil {
				t.Errorf("validator %d: %v", i, err)
			}
		}
	}()
	for i, in := range vs.Info() {
		if in.Pid == 0 || len(in.Argv) == 0 || in.URL != vs.URL(i) {
			t.Fatalf("validator %d: %+v", i, in)
		}
	}
	user := net.Users[0]
	var sent uint64
	transfer := func(via int) {
		t.Helper()
		inc, err := cpclient.New(vs.URL(via), nil).Submit(ctx, net.Sign(user, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(net.NodeOwner[0].Address()), Amount: 3}}))
		if err != nil || !inc.OK() {
			t.Fatalf("transfer via %d: %v %+v", via, err, inc)
		}
		sent += 3
	}
	balanceAt := func(i int) {
		t.Helper()
		c := cpclient.New(vs.URL(i), nil)
		for {
			a, err := c.Account(ctx, cpapi.Address(user.Address()))
			if err == nil && a.Balance == 1e12-sent {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("validator %d: balance %+v %v, want %d", i, a, err, uint64(1e12)-sent)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	transfer(2)
	for i := range vs.Len() {
		balanceAt(i)
	}
	if err := vs.Process(3).Kill(); err != nil {
		t.Fatal(err)
	}
	transfer(0)
	transfer(1)
	if err := vs.Process(3).Start(); err != nil {
		t.Fatal(err)
	}
	if err := vs.WaitReady(ctx, 3); err != nil {
		t.Fatal(err)
	}
	balanceAt(3)
}
