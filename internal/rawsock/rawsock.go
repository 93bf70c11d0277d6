// Package rawsock writes and reads TCP sockets without waking the Go runtime's monitor
// thread.
//
// A write(2) made the usual way (syscall.Syscall) tells the Go scheduler it
// enters a system call, and when the process was idle that wakes the runtime's monitor thread
// (sysmon), which then polls every 20 µs until the process has been busy for a while or idle
// again. A client uploading slivers goes idle whenever the nodes have not yet taken what it
// sent, so many of its writes woke the monitor: on the VMs the devnet benchmarks run on,
// where a context switch is dear, the monitor took 8-10% of the client's CPU in a 256 MiB
// store (BenchmarkStoreCPU with -storecpu.perf), 5% with these writes. Sockets are
// non-blocking, so a write returns at once (with what it could move, or EAGAIN, on
// which the network poller waits), and a system call that cannot block needs no word to the
// scheduler (syscall.RawSyscall). The connection's write deadline applies as to its own Write.
//
// Under the race detector the function is the connection's own Write: the
// detector learns of the order between a write and the read of its bytes at the other end
// from the usual system calls, and raw ones would make it report races that are not.
package rawsock

import "net"

// Writer returns a function that writes all of a buffer to c like c.Write, without waking the
// monitor where c is a socket of the operating system (Linux, not under the race detector);
// else c.Write itself.
func Writer(c net.Conn) func([]byte) (int, error) { return writer(c) }

// Reader returns a function that reads c like c.Read (into its whole buffer what has arrived,
// waiting for the network poller if nothing has), without waking the monitor where c is a
// socket of the operating system (Linux, not under the race detector); else c.Read itself. A
// storage node receiving slivers goes idle whenever it has read what arrived, and its next
// read after the poller woke it woke the monitor too. The connection's read deadline
// applies as to its own Read; the end of the stream is io.EOF.
func Reader(c net.Conn) func([]byte) (int, error) { return reader(c) }
