// Package freeaddr picks free 127.0.0.1 TCP addresses for servers that bind them later: the
// processes of a devnet (whose genesis names the nodes' addresses before they start), CometBFT
// validators, and the servers tests start.
//
// A port found by listening on port 0 comes from the kernel's ephemeral range, the range every
// outgoing connection on the machine also takes its local port from. Between the moment such a
// port is released and the moment the server binds it, any connection of any process may take
// it, and the server fails with "address already in use" (seen on a loaded machine running
// many tests at once). The ports picked here lie outside the ephemeral range, where the kernel
// hands out no port on its own: only a program that names the same port can take it in the
// meantime.
package freeaddr

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// rangeFile holds the kernel's ephemeral port range (Linux).
const rangeFile = "/proc/sys/net/ipv4/ip_local_port_range"

// Ephemeral returns the kernel's ephemeral port range, or Linux's default when it cannot be
// read.
func Ephemeral() (lo, hi int) {
	lo, hi = 32768, 60999
	b, err := os.ReadFile(rangeFile)
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return lo, hi
	}
	l, err1 := strconv.Atoi(f[0])
	h, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || l < 1 || h < l || h > 65535 {
		return lo, hi
	}
	return l, h
}

// pool returns the ports to pick from: below the ephemeral range if it leaves room (from
// 10000, clear of most well-known services), else above it; none if neither has room.
func pool() (lo, hi int) {
	elo, ehi := Ephemeral()
	switch {
	case elo-10000 >= 4096:
		return 10000, elo - 1
	case 65535-ehi >= 4096:
		return ehi + 1, 65535
	}
	return 0, -1
}

// attempts bounds the ports tried for one address.
const attempts = 200

// Reserve returns k distinct 127.0.0.1 addresses whose ports were free a moment ago, outside
// the ephemeral range (on a machine whose range leaves no room, ports from it).
func Reserve(k int) ([]string, error) { return ReserveExcept(k, nil) }

// ReserveExcept is Reserve giving none of the addresses in except: those another part of the
// same program was given earlier but may not listen on yet.
func ReserveExcept(k int, except []string) ([]string, error) {
	lo, hi := pool()
	return reserve(k, except, lo, hi)
}

// reserve is ReserveExcept over the ports [lo, hi].
func reserve(k int, except []string, lo, hi int) ([]string, error) {
	skip := make(map[string]bool, len(except))
	for _, a := range except {
		skip[a] = true
	}
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	out := make([]string, 0, k)
	for len(out) < k {
		l, err := listen(lo, hi)
		if err != nil {
			return nil, fmt.Errorf("freeaddr: %w", err)
		}
		lns = append(lns, l)
		if a := l.Addr().String(); !skip[a] {
			out = append(out, a)
		} else if len(lns) > k+attempts {
			return nil, fmt.Errorf("freeaddr: every free port found is excluded")
		}
	}
	return out, nil
}

// listen listens on a random free port of [lo, hi], or on port 0 if the pool is empty.
func listen(lo, hi int) (net.Listener, error) {
	if hi < lo {
		return net.Listen("tcp", "127.0.0.1:0")
	}
	var errs []error
	for range attempts {
		p := lo + rand.IntN(hi-lo+1)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err == nil {
			return l, nil
		}
		if len(errs) < 3 {
			errs = append(errs, err)
		}
	}
	return nil, fmt.Errorf("no free port in %d-%d after %d tries: %w", lo, hi, attempts, errors.Join(errs...))
}

// Port returns one free port (see Reserve).
func Port() (int, error) {
	a, err := Reserve(1)
	if err != nil {
		return 0, err
	}
	_, p, err := net.SplitHostPort(a[0])
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}

// For returns one free address for a test (see Reserve), failing the test if there is none.
func For(t testing.TB) string {
	t.Helper()
	a, err := Reserve(1)
	if err != nil {
		t.Fatal(err)
	}
	return a[0]
}

// ForN returns k distinct free addresses for a test (see Reserve).
func ForN(t testing.TB, k int) []string {
	t.Helper()
	a, err := Reserve(k)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
