package rawsock

import (
	"errors"
	"net"
)

// A Splicer writes to a socket without copying: the kernel takes references to the pages of
// the bytes written (vmsplice(2) into a pipe of the Splicer's, then splice(2) into the
// socket), and the peer's read copies them from there. The writer's copy into the socket's
// buffers is what it saves: on the VMs the devnet benchmarks run on, writing 1.15 GB to a
// Unix socket cost the two ends 2.5-3.0 CPU s with write(2) and 0.16 s spliced (both ends,
// the reader's copy included; a micro-benchmark of 800 KiB writes, 2026-12-02).
//
// The price is what write(2) does not ask: the bytes must stay unchanged until the peer has
// read them, not only until Write returns; bytes changed before that reach the peer changed.
// A caller splices only memory it leaves alone until the peer has answered for it (a sliver
// buffer kept until its store has ended), and only to a peer that checks what it receives.

// NewSplicer returns a Splicer for c, or nil where c cannot be spliced to (not Linux, the race
// detector, which learns the order between a write and the read of its bytes from the usual
// system calls, or c not a socket of the operating system). The Splicer's pipe is made at
// its first Write; Close releases it.
func NewSplicer(c net.Conn) *Splicer { return newSplicer(c) }

var errSplicerClosed = errors.New("rawsock: splicer closed")
