package devnet

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/floelabs/floe/internal/freeaddr"
)

// startByHand runs argv as a user would from a shell (not as the devnet's child process),
// with the child listening on addr.
func startByHand(t *testing.T, argv []string, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "FLOE_DEVNET_CHILD="+addr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// A process started by hand with a devnet process's argv is found, adopted, reported when it
// exits and stopped by Stop; one with another argv is not adopted.
func TestAdoptProcessStartedByHand(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	addr := freeaddr.For(t)
	p := &Process{Name: "node", Argv: []string{os.Args[0], "-test.run=XXX", "adopt-test", addr}, LogPath: filepath.Join(t.TempDir(), "node.log")}
	if pid := findRunning(p.Argv); pid != 0 {
		t.Fatalf("found pid %d before anything ran", pid)
	}
	other := startByHand(t, []string{os.Args[0], "-test.run=XXX", "adopt-test", "other"}, freeaddr.For(t))
	hand := startByHand(t, p.Argv, addr)
	waitPid(t, p.Argv, hand.Process.Pid)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	adopted, err := p.startOrAdopt()
	if err != nil || !adopted {
		t.Fatalf("startOrAdopt: adopted %v, %v", adopted, err)
	}
	if p.Pid() != hand.Process.Pid || !p.Adopted() || p.Pid() == other.Process.Pid {
		t.Fatalf("adopted pid %d, started by hand %d", p.Pid(), hand.Process.Pid)
	}
	if err := p.WaitReady(ctx, log, dialReady(addr)); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err == nil {
		t.Fatal("Start of an adopted process succeeded")
	}
	// Stop signals it; it exits (and, being this test's child, stays a zombie until reaped:
	// that counts as exited).
	if err := p.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if p.Running() {
		t.Fatal("still running after Stop")
	}
	if err := hand.Wait(); err == nil {
		t.Fatal("the process started by hand exited cleanly: it was not signalled")
	}

	// Killed from outside, an adopted process is reported through Exited.
	hand = startByHand(t, p.Argv, addr)
	waitPid(t, p.Argv, hand.Process.Pid)
	if err := p.Adopt(hand.Process.Pid); err != nil {
		t.Fatal(err)
	}
	exited := p.Exited()
	hand.Process.Kill()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the adopted process's exit was not noticed")
	}
	if p.Running() || p.Err() == nil {
		t.Fatalf("after its exit: running %v, err %v", p.Running(), p.Err())
	}
	if err := p.Adopt(other.Process.Pid); err == nil {
		t.Fatal("adopted a process running another argv")
	}
}

// waitPid waits until /proc shows pid running argv (exec takes a moment).
func waitPid(t *testing.T, argv []string, pid int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); findRunning(argv) != pid; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d never ran %v", pid, argv)
		}
	}
}
