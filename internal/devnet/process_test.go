package devnet

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floelabs/floe/internal/freeaddr"
)

// The test binary doubles as a child process: with FLOE_DEVNET_CHILD set it listens on the
// given address until it is signalled (and exits with the error if it cannot).
func TestMain(m *testing.M) {
	if addr := os.Getenv("FLOE_DEVNET_CHILD"); addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(3)
		}
		os.Stdout.WriteString("child listening\n")
		for {
			c, err := ln.Accept()
			if err != nil {
				os.Exit(0)
			}
			c.Close()
		}
	}
	os.Exit(m.Run())
}

func dialReady(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

func TestProcessLifecycle(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	addr := freeaddr.For(t)
	p := &Process{
		Name:    "child",
		Argv:    []string{os.Args[0], "-test.run=XXX"},
		LogPath: filepath.Join(t.TempDir(), "child.log"),
		Env:     []string{"FLOE_DEVNET_CHILD=" + addr},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for round := 0; round < 2; round++ { // start, kill -9, restart with the same argv
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		if err := p.Start(); err == nil {
			t.Fatal("second Start of a running process succeeded")
		}
		if err := p.WaitReady(ctx, log, dialReady(addr)); err != nil {
			t.Fatal(err)
		}
		if p.Pid() == 0 || !p.Running() {
			t.Fatal("no pid for a running process")
		}
		if round == 0 {
			if err := p.Kill(); err != nil {
				t.Fatal(err)
			}
			if p.Err() == nil {
				t.Fatal("a killed process reports a clean exit")
			}
		} else if err := p.Stop(5 * time.Second); err != nil {
			t.Fatal(err)
		}
		if p.Running() {
			t.Fatal("process still running after stop")
		}
	}
	if err := p.Stop(time.Second); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("stop of a stopped process: %v", err)
	}
	logs, err := os.ReadFile(p.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(logs), "child listening") != 2 {
		t.Fatalf("log does not hold both runs: %q", logs)
	}
}

func TestWaitReadyReportsEarlyExit(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := &Process{Name: "broken", Argv: []string{"/bin/false"}, LogPath: filepath.Join(t.TempDir(), "b.log")}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := p.WaitReady(ctx, log, func(context.Context) error { return errors.New("not yet") })
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") {
		// The process may have exited before WaitReady looked: then it is not running.
		if !errors.Is(err, ErrNotRunning) {
			t.Fatalf("got %v", err)
		}
	}
}

// TestWaitReadyRestartsOnAddrInUse: a process that exits because its address is taken is
// started again until the address is free (here: the test holds the port until the first
// run failed), and a port held throughout fails with a message that says so.
func TestWaitReadyRestartsOnAddrInUse(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, release := range []bool{true, false} {
		ln, err := net.Listen("tcp", freeaddr.For(t))
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		p := &Process{Name: "child", Argv: []string{os.Args[0], "-test.run=XXX"},
			LogPath: filepath.Join(t.TempDir(), "child.log"), Env: []string{"FLOE_DEVNET_CHILD=" + addr}}
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		if release {
			go func() {
				<-p.Exited() // the first run found the port taken
				ln.Close()
			}()
		}
		// Ready once the child says it listens (a dial would reach the test's own listener).
		listening := func(context.Context) error {
			if b, _ := os.ReadFile(p.LogPath); !strings.Contains(string(b), "child listening") {
				return errors.New("not listening yet")
			}
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err = p.WaitReady(ctx, log, listening)
		cancel()
		logs, _ := os.ReadFile(p.LogPath)
		if release {
			if err != nil {
				t.Fatalf("port freed after the first run: %v (log %q)", err, logs)
			}
			if !strings.Contains(string(logs), "address already in use") || !strings.Contains(string(logs), "child listening") {
				t.Fatalf("log does not show the failed run and the one that listens: %q", logs)
			}
			if err := p.Stop(5 * time.Second); err != nil {
				t.Fatal(err)
			}
			continue
		}
		ln.Close()
		if err == nil || !strings.Contains(err.Error(), "still in use after 5 restarts") {
			t.Fatalf("port held throughout: got %v", err)
		}
		if n := strings.Count(string(logs), "address already in use"); n != 6 {
			t.Fatalf("%d runs failed to bind, want 6: %q", n, logs)
		}
	}
}
