package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/nodestore"
)

// idleControlPlane is a control plane with nothing to say: no events, no committee.
type idleControlPlane struct{}

var errIdle = errors.New("idle control plane")

func (idleControlPlane) Events(ctx context.Context, _ uint64, _ int) ([]cpapi.Event, error) {
	<-ctx.Done()
	return nil, nil
}
func (idleControlPlane) Committee(context.Context, uint32) (*cpapi.Committee, error) {
	return nil, ErrNoCommittee
}
func (idleControlPlane) Info(context.Context) (cpapi.Info, error) { return cpapi.Info{}, errIdle }
func (idleControlPlane) BlobObject(context.Context, cpapi.ObjectID) (cpapi.Blob, error) {
	return cpapi.Blob{}, ErrNoBlobObject
}
func (idleControlPlane) Submit(context.Context, []byte) (*cpapi.TxResult, error) { return nil, errIdle }
func (idleControlPlane) Nonce(context.Context, crypto.Address) (uint64, error)   { return 0, errIdle }
func (idleControlPlane) ListState(context.Context, func(*cpapi.StatePage) error) (uint64, error) {
	return 0, errIdle
}

// TestTickersStopped: every ticker the engine's background work starts (garbage collection,
// scrubbing, the pending buffer's sweep, recovery sweeps) is stopped when Run returns.
func TestTickersStopped(t *testing.T) {
	st, err := nodestore.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key, err := crypto.GenerateBLSKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{Store: st, ControlPlane: idleControlPlane{}, ProtocolKey: key, Registry: prometheus.NewRegistry(),
		GCInterval: time.Hour, ScrubInterval: time.Hour, RecoverySweep: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	started, stopped := 0, 0
	e.newTicker = func(d time.Duration) (<-chan time.Time, func()) {
		tk := time.NewTicker(d)
		mu.Lock()
		started++
		mu.Unlock()
		return tk.C, func() {
			tk.Stop()
			mu.Lock()
			stopped++
			mu.Unlock()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := started
		mu.Unlock()
		if n >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d tickers started in 30 s, want 5 (gc, scrub, pending sweep, recovery sweep, challenge poll)", n)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	mu.Lock()
	defer mu.Unlock()
	if stopped != started {
		t.Fatalf("%d tickers started, %d stopped", started, stopped)
	}
}
