package devnet

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A process of the devnet that exited (crashed, or killed to try Floe's fault tolerance) can
// be restarted by hand with its argv from devnet.json. The devnet then adopts it: it finds the
// running process whose command line is that argv (in /proc), records its pid in devnet.json,
// reports when it exits and stops it with the rest. Without /proc (not Linux) nothing is
// adopted.

// adoptPoll is how often an adopted process is checked for having exited.
const adoptPoll = 200 * time.Millisecond

// findRunning returns the pid of a running process whose command line is argv (the program
// may be named by another path to the same file name), other than the devnet itself; 0 if
// there is none.
func findRunning(argv []string) int {
	if len(argv) == 0 {
		return 0
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if cmdlineMatches(pid, argv) && alive(pid) {
			return pid
		}
	}
	return 0
}

// cmdlineMatches reports whether process pid runs argv.
func cmdlineMatches(pid int, argv []string) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil || len(b) == 0 {
		return false
	}
	got := strings.Split(string(bytes.TrimSuffix(b, []byte{0})), "\x00")
	if len(got) != len(argv) || filepath.Base(got[0]) != filepath.Base(argv[0]) {
		return false
	}
	for i := 1; i < len(argv); i++ {
		if got[i] != argv[i] {
			return false
		}
	}
	return true
}

// alive reports whether pid exists and is not a zombie (an exited child its parent has not
// reaped yet).
func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// pid (comm) state ...: the comm may hold spaces and parentheses, the state follows the
	// last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	return b[i+2] != 'Z' && b[i+2] != 'X'
}

// Adopt makes the process track pid, a process started outside the devnet with this
// process's argv: Pid reports it, Exited closes when it exits, Stop and Kill signal it.
func (p *Process) Adopt(pid int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil || p.adopted != 0 {
		return fmt.Errorf("devnet: %s is already running (pid %d)", p.Name, p.pidLocked())
	}
	if !alive(pid) || !cmdlineMatches(pid, p.Argv) {
		return fmt.Errorf("devnet: %s: pid %d does not run its argv", p.Name, pid)
	}
	done := make(chan struct{})
	p.adopted, p.done, p.err = pid, done, nil
	go func() {
		for alive(pid) && cmdlineMatches(pid, p.Argv) {
			time.Sleep(adoptPoll)
		}
		p.mu.Lock()
		if p.adopted == pid {
			p.adopted = 0
		}
		p.err = errors.New("the adopted process exited")
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// Adopted reports whether the process runs outside the devnet's supervision (started by hand
// and adopted).
func (p *Process) Adopted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.adopted != 0
}

// startOrAdopt adopts a process already running with p's argv (started by hand, or left by a
// devnet that was killed), else starts one. It reports whether it adopted.
func (p *Process) startOrAdopt() (bool, error) {
	if pid := findRunning(p.Argv); pid != 0 {
		if err := p.Adopt(pid); err == nil {
			return true, nil
		}
	}
	return false, p.Start()
}

// signalAdopted signals an adopted process and waits for it to exit, killing it after grace.
func (p *Process) signalAdopted(pid int, done <-chan struct{}, sig syscall.Signal, grace time.Duration) error {
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("devnet: signalling %s (pid %d): %w", p.Name, pid, err)
	}
	select {
	case <-done:
		return nil
	case <-time.After(grace):
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("devnet: killing %s (pid %d): %w", p.Name, pid, err)
	}
	<-done
	return nil
}

// AdoptRestarted adopts every process of the network that is not running but whose argv a
// process started by hand runs, records the pids in devnet.json, and returns the names of the
// processes adopted.
func (n *Network) AdoptRestarted() ([]string, error) {
	var names []string
	for _, p := range n.processes() {
		if p.Running() {
			continue
		}
		if pid := findRunning(p.Argv); pid != 0 {
			if err := p.Adopt(pid); err != nil {
				continue // it exited again meanwhile
			}
			n.log.Info("adopted a process restarted by hand", "name", p.Name, "pid", pid)
			names = append(names, p.Name)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	return names, n.WriteInfo()
}

// processes lists every process of the network.
func (n *Network) processes() []*Process {
	n.mu.Lock()
	defer n.mu.Unlock()
	all := slices.Clone(n.controlPlaneProcs())
	for _, p := range n.nodes {
		if !n.retired[p] {
			all = append(all, p)
		}
	}
	all = append(all, n.daemon)
	if n.s3 != nil {
		all = append(all, n.s3)
	}
	if n.portal != nil {
		all = append(all, n.portal)
	}
	return all
}
