package freeaddr

import (
	"net"
	"strconv"
	"testing"
)

// TestReserveOutsideEphemeral: the addresses are distinct, on 127.0.0.1, outside the kernel's
// ephemeral range (where outgoing connections take their ports), and free to bind.
func TestReserveOutsideEphemeral(t *testing.T) {
	lo, hi := Ephemeral()
	plo, phi := pool()
	if phi < plo {
		t.Skipf("the ephemeral range %d-%d leaves no room for a pool outside it", lo, hi)
	}
	addrs, err := Reserve(64)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		host, ps, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatal(err)
		}
		p, err := strconv.Atoi(ps)
		if err != nil {
			t.Fatal(err)
		}
		if host != "127.0.0.1" || seen[a] || (p >= lo && p <= hi) || p < plo || p > phi {
			t.Fatalf("address %s: want distinct 127.0.0.1 ports in %d-%d, outside the ephemeral %d-%d", a, plo, phi, lo, hi)
		}
		seen[a] = true
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("reserved %s does not bind: %v", a, err)
		}
		l.Close()
	}
}

// TestListenSkipsTaken: listen never returns a port that is taken (of a pool of four ports,
// three held by the test, it returns the fourth every time).
func TestListenSkipsTaken(t *testing.T) {
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	base := 0
	for try := 0; try < 20 && len(held) < 3; try++ {
		for _, l := range held {
			l.Close()
		}
		held = held[:0]
		addrs, err := Reserve(1)
		if err != nil {
			t.Fatal(err)
		}
		_, ps, _ := net.SplitHostPort(addrs[0])
		base, _ = strconv.Atoi(ps)
		for p := base; p < base+3; p++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				break // taken by another program: try another base
			}
			held = append(held, l)
		}
	}
	if len(held) < 3 {
		t.Fatal("found no three free consecutive ports in 20 tries")
	}
	for range 20 {
		l, err := listen(base, base+3)
		if err != nil {
			t.Fatal(err) // also if another program took base+3 meanwhile: then it is no pool here
		}
		got := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if got != base+3 {
			t.Fatalf("listen returned port %d; %d-%d are held by this test", got, base, base+2)
		}
	}
}

// TestReserveExcept: of a pool of four free ports, two excluded, the reservation gives the
// other two (every time), and fails clearly when it asks for more than the pool leaves.
func TestReserveExcept(t *testing.T) {
	var base int
	for try := 0; ; try++ {
		if try == 20 {
			t.Fatal("found no four free consecutive ports in 20 tries")
		}
		addrs, err := Reserve(1)
		if err != nil {
			t.Fatal(err)
		}
		_, ps, _ := net.SplitHostPort(addrs[0])
		base, _ = strconv.Atoi(ps)
		free := 0
		for p := base; p < base+4; p++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				break
			}
			l.Close()
			free++
		}
		if free == 4 {
			break
		}
	}
	addr := func(p int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)) }
	except := []string{addr(base), addr(base + 2)}
	for range 20 {
		got, err := reserve(2, except, base, base+3)
		if err != nil {
			t.Fatal(err) // also if another program took base+1 or base+3 meanwhile
		}
		want := map[string]bool{addr(base + 1): true, addr(base + 3): true}
		if len(got) != 2 || got[0] == got[1] || !want[got[0]] || !want[got[1]] {
			t.Fatalf("reserve 2 of %d-%d except %v: %v", base, base+3, except, got)
		}
	}
	if got, err := reserve(3, except, base, base+3); err == nil {
		t.Fatalf("reserve 3 of a pool leaving 2: %v, want an error", got)
	}
}
