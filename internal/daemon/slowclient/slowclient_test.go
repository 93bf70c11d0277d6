package slowclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/devnet"
	"github.com/floelabs/floe/internal/devnet/devnettest"
)

// floeBin is the floe binary the devnet runs.
var floeBin string

func TestMain(m *testing.M) { devnettest.Main(m, &floeBin) }

const (
	slowPUTs    = 32
	stalledGETs = 32
	normalOps   = 20
	bigBlob     = 10 << 20 // the daemon's default largest body
	// A liveness deadline, not a performance assertion: on a daemon that lets these clients
	// hold its slots, every store and read fails at once with 429 (or waits forever); here they
	// take a fraction of a second on an idle machine, seconds on a loaded one (the 32 stalled
	// GETs each start a 10 MiB read).
	livenessTimeout = 60 * time.Second
)

// settle is how long the attack runs before the normal requests start, so that they meet the
// held connections rather than the 32 large reads the stalled GETs start.
const settle = 10 * time.Second

// putQuery stores data with a query and returns the status and body.
func putQuery(ctx context.Context, hc *http.Client, base, query string, data []byte) (int, []byte) {
	req, err := http.NewRequestWithContext(ctx, "PUT", base+"/v1/blobs?"+query, bytes.NewReader(data))
	if err != nil {
		return 0, []byte(err.Error())
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// attackers counts the attacking connections open and how many the daemon ended.
type attackers struct {
	open, cut atomic.Int64
}

// slowPUT keeps a PUT open whose body comes one byte every 5 s; when the daemon ends it, it
// opens another.
func (a *attackers) slowPUT(ctx context.Context, addr string) {
	for ctx.Err() == nil {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		a.open.Add(1)
		_, err = fmt.Fprintf(c, "PUT /v1/blobs?epochs=1 HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\nx", addr, 1<<20)
		for err == nil {
			select {
			case <-ctx.Done():
				err = ctx.Err()
			case <-time.After(5 * time.Second):
				_, err = c.Write([]byte("x"))
			}
		}
		c.Close()
		a.open.Add(-1)
		if ctx.Err() == nil {
			a.cut.Add(1)
		}
	}
}

// stalledGET keeps a GET of a large blob open without reading a byte of its response, with
// as small a receive buffer as the kernel allows. Every 5 s it writes one more byte (of a
// pipelined request the daemon never reaches) to learn whether the daemon ended the
// connection, and then opens another.
func (a *attackers) stalledGET(ctx context.Context, addr, id string) {
	for ctx.Err() == nil {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		c.(*net.TCPConn).SetReadBuffer(1024)
		a.open.Add(1)
		_, err = fmt.Fprintf(c, "GET /v1/blobs/%s HTTP/1.1\r\nHost: %s\r\n\r\n", id, addr)
		for err == nil {
			select {
			case <-ctx.Done():
				err = ctx.Err()
			case <-time.After(5 * time.Second):
				_, err = c.Write([]byte("G"))
			}
		}
		c.Close()
		a.open.Add(-1)
		if ctx.Err() == nil {
			a.cut.Add(1)
		}
	}
}

func TestSlowClients(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a devnet")
	}
	addr := devnettest.FreeAddr(t)
	// 40 shards: a 10 MiB blob fits (K_p·K_s·65534 bytes is about 25 MB at n = 40).
	n := devnettest.Start(t, devnet.Config{Dir: t.TempDir(), Nodes: 4, Shards: 40, Addr: addr, Binary: floeBin,
		Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	base := n.Info().Daemon
	hc := &http.Client{Timeout: livenessTimeout}
	defer hc.CloseIdleConnections()

	// Before the attack, the daemon's check of epochs against the control plane's limit,
	// through the SDK (Blobs.MaxEpochsAhead): one more is refused, the limit itself stored.
	cfg, err := client.LoadConfig(n.Info().ClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(ctx, *cfg)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	limit := info.Params.MaxEpochsAhead
	if code, body := putQuery(ctx, hc, base, fmt.Sprintf("epochs=%d", limit+1), []byte("too long")); code != 400 {
		t.Fatalf("epochs=%d over a limit of %d: %d %s", limit+1, limit, code, body)
	}
	if code, body := putQuery(ctx, hc, base, fmt.Sprintf("epochs=%d", limit), []byte("long enough")); code != 200 {
		t.Fatalf("epochs=%d, the limit: %d %s", limit, code, body)
	}

	big := make([]byte, bigBlob)
	rand.Read(big)
	bigID, err := devnettest.PutBlob(ctx, hc, base, 1, big)
	if err != nil {
		t.Fatalf("storing the large blob: %v", err)
	}
	// Blobs to read during the attack, stored before it (so that reads are tried even where
	// stores fail).
	before := make([][]byte, normalOps)
	beforeIDs := make([]string, normalOps)
	for i := range before {
		before[i] = make([]byte, 32<<10+i)
		rand.Read(before[i])
		if beforeIDs[i], err = devnettest.PutBlob(ctx, hc, base, 1, before[i]); err != nil {
			t.Fatalf("storing blob %d before the attack: %v", i, err)
		}
	}
	// Walrus's read checks reach the SDK: strict (re-encode, compare the blob ID) and skip
	// read the blob; both at once are refused.
	for _, q := range []string{"strict_consistency_check=true", "skip_consistency_check=true"} {
		if got, err := devnettest.GetBlob(ctx, hc, base, beforeIDs[0]+"?"+q); err != nil || !bytes.Equal(got, before[0]) {
			t.Fatalf("GET ?%s: %d bytes, %v", q, len(got), err)
		}
	}
	if _, err := devnettest.GetBlob(ctx, hc, base, beforeIDs[0]+"?strict_consistency_check=true&skip_consistency_check=true"); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("GET with both checks: %v, want a 400", err)
	}

	attackCtx, stopAttack := context.WithCancel(ctx)
	var a attackers
	var wg sync.WaitGroup
	for range slowPUTs {
		wg.Go(func() { a.slowPUT(attackCtx, addr) })
	}
	for range stalledGETs {
		wg.Go(func() { a.stalledGET(attackCtx, addr, bigID) })
	}
	defer func() {
		stopAttack()
		wg.Wait()
	}()
	// Let every attacking request reach the daemon (and, on a daemon that admits them before
	// their bodies or holds them while they do not read, take its slots).
	deadline := time.Now().Add(30 * time.Second)
	for a.open.Load() < slowPUTs+stalledGETs {
		if time.Now().After(deadline) {
			t.Fatalf("only %d attacking connections open", a.open.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(settle)
	t.Logf("%d attacking connections open", a.open.Load())

	type outcome struct {
		i                 int
		store, read       time.Duration
		storeErr, readErr error
	}
	results := make(chan outcome, normalOps)
	var ops sync.WaitGroup
	for w := range 4 {
		ops.Go(func() {
			for i := w; i < normalOps; i += 4 {
				o := outcome{i: i}
				// A store, then a read of what it stored.
				data := make([]byte, 64<<10+i)
				rand.Read(data)
				start := time.Now()
				id, err := devnettest.PutBlob(ctx, hc, base, 1, data)
				if err == nil {
					var got []byte
					got, err = devnettest.GetBlob(ctx, hc, base, id)
					if err == nil && !bytes.Equal(got, data) {
						err = fmt.Errorf("read back %d bytes, not the %d stored", len(got), len(data))
					}
				}
				o.store, o.storeErr = time.Since(start), err
				// A read of a blob stored before the attack.
				start = time.Now()
				got, err := devnettest.GetBlob(ctx, hc, base, beforeIDs[i])
				if err == nil && !bytes.Equal(got, before[i]) {
					err = fmt.Errorf("read %d bytes, not the %d stored", len(got), len(before[i]))
				}
				o.read, o.readErr = time.Since(start), err
				results <- o
			}
		})
	}
	ops.Wait()
	close(results)
	var worstStore, worstRead time.Duration
	var storesOK, readsOK int
	for o := range results {
		if o.storeErr != nil {
			t.Errorf("store and read back %d: %v", o.i, o.storeErr)
		} else {
			storesOK++
			worstStore = max(worstStore, o.store)
		}
		if o.readErr != nil {
			t.Errorf("read %d: %v", o.i, o.readErr)
		} else {
			readsOK++
			worstRead = max(worstRead, o.read)
		}
	}
	t.Logf("under attack: %d of %d stores (each read back) and %d of %d reads succeeded; slowest store and read back %v, slowest read %v",
		storesOK, normalOps, readsOK, normalOps, worstStore.Round(time.Millisecond), worstRead.Round(time.Millisecond))
	t.Logf("%d attacking connections open at the end, %d ended by the daemon", a.open.Load(), a.cut.Load())
	if open := a.open.Load(); open < (slowPUTs+stalledGETs)*3/4 {
		t.Errorf("only %d attacking connections open at the end: the attack did not hold", open)
	}
}
