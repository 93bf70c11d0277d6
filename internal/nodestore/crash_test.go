package nodestore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

// crashSliver returns the deterministic sliver pair number i that the crash tests write.
func crashSliver(i int, a redstuff.Axis) redstuff.Sliver {
	const size = 16 << 10
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(i), uint64(a)))
	for j := range data {
		data[j] = byte(r.Uint32())
	}
	return redstuff.Sliver{Axis: a, Index: i % 1000, SymbolSize: 64, Data: data}
}

func crashID(i int) blob.ID {
	var x blob.ID
	copy(x[:], fmt.Sprintf("crash-%08d", i))
	return x
}

// writeAcked writes sliver pair i on shard i%7 and applies event i+1, which registers blob 0
// once more; it returns when both are durable.
func writeAcked(ctx context.Context, s *Store, i int) error {
	if err := s.PutSliverPair(ctx, uint16(i%7), crashID(i), crashSliver(i, redstuff.Primary), crashSliver(i, redstuff.Secondary)); err != nil {
		return err
	}
	return s.ApplyEvent(ctx, uint64(i+1), func(tx *EventTx) error {
		_, err := tx.ApplyChange(crashID(0), BlobChange{Kind: Registered, EndEpoch: 10, Event: EventID{Seq: uint64(i + 1)}})
		return err
	})
}

// checkAcked checks that every write up to acked (exclusive) is in s and that the event
// cursor and the blob info agree: each applied event counted exactly once.
func checkAcked(t *testing.T, s *Store, acked int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < acked; i++ {
		for _, a := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
			got, err := s.Sliver(ctx, uint16(i%7), crashID(i), a)
			if err != nil {
				t.Fatalf("acknowledged sliver %d %s lost: %v", i, a, err)
			}
			if !sliverEqual(got, crashSliver(i, a)) {
				t.Fatalf("acknowledged sliver %d %s differs", i, a)
			}
		}
	}
	seq, ok, err := s.EventCursor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if acked > 0 && (!ok || seq < uint64(acked)) {
		t.Fatalf("event cursor %d (ok %v) behind %d acknowledged events", seq, ok, acked)
	}
	info, err := s.BlobInfo(ctx, crashID(0))
	if acked > 0 && err != nil {
		t.Fatal(err)
	}
	if uint64(info.Permanent.Count) != seq {
		t.Fatalf("cursor at %d but %d registrations applied", seq, info.Permanent.Count)
	}
}

const crashEnv = "NODESTORE_CRASH_CHILD_DIR"

// TestCrashChild is the child process of TestKillAfterAck; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("child process of TestKillAfterAck")
	}
	s, err := Open(dir, nil)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	// Resume like a node: at the first event after the cursor.
	seq, _, err := s.EventCursor(context.Background())
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	for i := int(seq); ; i++ {
		if err := writeAcked(context.Background(), s, i); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println("ack", i) // stdout is unbuffered: the parent sees it at once
	}
}

// TestKillAfterAck runs a child process that writes and acknowledges slivers and events,
// kills it with SIGKILL mid-way, reopens the store and checks every acknowledged write.
func TestKillAfterAck(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	acked := 0 // acknowledged over all rounds
	for round := 0; round < 2; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		killed := false
		deadline := time.Now().Add(20 * time.Second)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "ack "):
				n, err := strconv.Atoi(strings.TrimPrefix(line, "ack "))
				if err != nil {
					t.Fatalf("bad line %q", line)
				}
				acked = n + 1
			case strings.HasPrefix(line, "error"):
				t.Fatalf("child: %s", line)
			}
			// Kill mid-way: after some acknowledgements beyond the previous round, at a
			// moment that varies with scheduling.
			if !killed && (acked >= 40*(round+1) || time.Now().After(deadline)) {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
		_ = cmd.Wait()
		if !killed {
			t.Fatalf("child exited by itself after %d acknowledgements", acked)
		}
		t.Logf("round %d: killed after %d acknowledged writes", round, acked)

		s, err := Open(dir, nil)
		if err != nil {
			t.Fatalf("reopen after SIGKILL: %v", err)
		}
		checkAcked(t, s, acked)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPowerLoss simulates a machine crash with Pebble's crashable in-memory file system: the
// clone keeps only what was synced (and, in later rounds, a random part of what was not).
// Every acknowledged write must survive.
func TestPowerLoss(t *testing.T) {
	for _, unsynced := range []int{0, 50, 100} {
		t.Run(fmt.Sprintf("unsynced%d", unsynced), func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			s, err := Open("db", &Options{FS: fs})
			if err != nil {
				t.Fatal(err)
			}
			const n = 25
			for i := 0; i < n; i++ {
				if err := writeAcked(context.Background(), s, i); err != nil {
					t.Fatal(err)
				}
			}
			clone := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: unsynced, RNG: rand.New(rand.NewPCG(1, uint64(unsynced)))})
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s, err = Open("db", &Options{FS: clone})
			if err != nil {
				t.Fatalf("open after crash: %v", err)
			}
			defer s.Close()
			checkAcked(t, s, n)
		})
	}
}

// TestWriteErrorFailsStop injects I/O errors into Pebble's write-ahead log (what a full disk
// does): the write reports ErrFailed, the store refuses every later operation, and after a
// crash and reopen every write acknowledged before the failure is there.
func TestWriteErrorFailsStop(t *testing.T) {
	ctx := context.Background()
	mem := vfs.NewCrashableMem()
	toggle := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if strings.HasSuffix(op.Path, ".log") && op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return fmt.Errorf("%w: no space left on device", errorfs.ErrInjected)
		}
		return nil
	})}
	s, err := Open("db", &Options{FS: errorfs.Wrap(mem, toggle), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	const n = 10
	for i := 0; i < n; i++ {
		if err := writeAcked(ctx, s, i); err != nil {
			t.Fatal(err)
		}
	}
	toggle.On()
	err = writeAcked(ctx, s, n)
	toggle.Off()
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("write on a failing disk: %v, want ErrFailed", err)
	}
	if !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("error does not say what failed: %v", err)
	}
	// The store stays failed, even with the disk back.
	if _, err := s.Sliver(ctx, 0, crashID(0), redstuff.Primary); !errors.Is(err, ErrFailed) {
		t.Fatalf("read after failure: %v, want ErrFailed", err)
	}
	if err := s.PutSliver(ctx, 1, crashID(99), crashSliver(99, redstuff.Primary)); !errors.Is(err, ErrFailed) {
		t.Fatalf("write after failure: %v, want ErrFailed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close after failure: %v", err)
	}

	s, err = Open("db", &Options{FS: mem.CrashClone(vfs.CrashCloneCfg{})})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	checkAcked(t, s, n)
	if ok, _ := s.HasSliver(ctx, 1, crashID(99), redstuff.Primary); ok {
		t.Fatal("a write refused after the failure was stored")
	}
	// The store works again after the reopen.
	if err := writeAcked(ctx, s, 200); err != nil {
		t.Fatalf("write after reopen: %v", err)
	}
}
