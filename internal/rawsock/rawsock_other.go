//go:build !linux || race

package rawsock

import "net"

func writer(c net.Conn) func([]byte) (int, error) { return c.Write }

func reader(c net.Conn) func([]byte) (int, error) { return c.Read }
