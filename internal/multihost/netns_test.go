package multihost

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test's network: a bridge in the root namespace and one namespace per host, all named
// with prefix so that leftovers of a crashed run can be found and removed.
const (
	prefix = "floemh-"
	bridge = prefix + "br"
	subnet = "10.213.77." // /24
)

// host is a network namespace with one veth into the bridge.
type host struct {
	name string // short name: c, v1, n1, ...
	ns   string // namespace name
	ip   string
}

// ipCmd runs ip with args and returns its combined output.
func ipCmd(args ...string) (string, error) {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// canCreateNamespaces reports why network namespaces cannot be made here ("" if they can),
// by making and removing one.
func canCreateNamespaces() string {
	if os.Geteuid() != 0 {
		return "not root: creating network namespaces needs root"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "no ip command (iproute2; scripts/setup installs it)"
	}
	probe := prefix + "probe"
	ipCmd("netns", "del", probe)
	if _, err := ipCmd("netns", "add", probe); err != nil {
		return "cannot create a network namespace: " + err.Error()
	}
	defer ipCmd("netns", "del", probe)
	if _, err := ipCmd("-n", probe, "link", "set", "lo", "up"); err != nil {
		return "cannot configure a network namespace: " + err.Error()
	}
	if _, err := ipCmd("link", "add", prefix+"probebr", "type", "bridge"); err != nil {
		return "cannot create a bridge: " + err.Error()
	}
	ipCmd("link", "del", prefix+"probebr")
	return ""
}

// lockNetwork takes a host-wide lock on the test's network names, so that two runs at once
// do not tear down each other's namespaces.
func lockNetwork(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "floe-multihost.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
}

// removeLeftovers kills the processes in the test's namespaces and removes the namespaces and
// the bridge (of this run at its end, or of a previous run that crashed).
func removeLeftovers(t *testing.T) {
	t.Helper()
	out, err := ipCmd("netns", "list")
	if err != nil {
		t.Logf("listing namespaces: %v", err)
	}
	for _, line := range strings.Split(out, "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		if pids, err := ipCmd("netns", "pids", name); err == nil {
			for _, f := range strings.Fields(pids) {
				var pid int
				if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if _, err := ipCmd("netns", "del", name); err != nil {
			t.Logf("removing namespace %s: %v", name, err)
		}
	}
	if _, err := ipCmd("link", "show", bridge); err == nil {
		if _, err := ipCmd("link", "del", bridge); err != nil {
			t.Logf("removing bridge: %v", err)
		}
	}
}

// makeBridge creates the bridge with the root namespace's address and extra addresses (the
// proxies' listen addresses).
func makeBridge(t *testing.T, extra []string) {
	t.Helper()
	must(t, "link", "add", bridge, "type", "bridge")
	must(t, "addr", "add", subnet+"1/24", "dev", bridge)
	for _, a := range extra {
		must(t, "addr", "add", a+"/32", "dev", bridge)
	}
	must(t, "link", "set", bridge, "up")
}

// makeHost creates a namespace with a veth into the bridge at ip.
func makeHost(t *testing.T, name, ip string) host {
	t.Helper()
	h := host{name: name, ns: prefix + name, ip: ip}
	veth := "vmh-" + name // the root end; the namespace's end is eth0
	must(t, "netns", "add", h.ns)
	must(t, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
	must(t, "link", "set", veth, "master", bridge, "up")
	must(t, "-n", h.ns, "addr", "add", ip+"/24", "dev", "eth0")
	must(t, "-n", h.ns, "link", "set", "eth0", "up")
	must(t, "-n", h.ns, "link", "set", "lo", "up")
	return h
}

func must(t *testing.T, args ...string) {
	t.Helper()
	if _, err := ipCmd(args...); err != nil {
		t.Fatal(err)
	}
}

// command returns a command running argv in h's namespace.
func (h host) command(ctx context.Context, argv ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.ns}, argv...)...)
}

// waitTCP waits until addr accepts connections (from the root namespace) or ctx ends.
func waitTCP(ctx context.Context, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %w)", addr, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
