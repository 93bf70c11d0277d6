package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/floelabs/floe/internal/devnet"
)

// A node killed and restarted by hand with its argv from devnet.json is adopted by the devnet:
// devnet.json records its pid, and stopping the devnet stops it.
func TestDevnetAdoptsNodeRestartedByHand(t *testing.T) {
	n := startNet(t, t.TempDir(), 4, 40, 0)
	if err := n.Node(1).Kill(); err != nil {
		t.Fatal(err)
	}
	if names, err := n.AdoptRestarted(); err != nil || len(names) != 0 {
		t.Fatalf("adopted %v (%v) before anything was restarted", names, err)
	}
	argv := n.Info().Nodes[1].Argv
	logf, err := os.Create(filepath.Join(t.TempDir(), "by-hand.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { cmd.Wait(); close(waited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-waited })

	deadline := time.Now().Add(time.Minute)
	for {
		names, err := n.AdoptRestarted()
		if err != nil {
			t.Fatal(err)
		}
		if slices.Equal(names, []string{"node-01"}) {
			break
		}
		if len(names) > 0 || time.Now().After(deadline) {
			t.Fatalf("adopted %v, want [node-01]", names)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n.Node(1).Pid() != cmd.Process.Pid || !n.Node(1).Adopted() {
		t.Fatalf("node-01 pid %d, started by hand as %d", n.Node(1).Pid(), cmd.Process.Pid)
	}
	b, err := os.ReadFile(filepath.Join(n.Info().Dir, devnet.InfoFile))
	if err != nil {
		t.Fatal(err)
	}
	var info devnet.Info
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	if info.Nodes[1].Pid != cmd.Process.Pid {
		t.Errorf("devnet.json records pid %d for node-01, want %d", info.Nodes[1].Pid, cmd.Process.Pid)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
		t.Fatal("stopping the devnet did not stop the node restarted by hand")
	}
}
