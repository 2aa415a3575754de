package main

import (
	"context"
	"net"
	"syscall"
)

// quickDial dials TCP connections that acknowledge every read at once.
//
// sshd leaves Nagle's algorithm on until a session starts, so right after
// authentication its reply waits for the client to acknowledge an earlier
// packet, and Linux delays that acknowledgement by 40 ms. That costs every
// connection 40 ms; over the few hundred connections the conformance suite
// makes it is most of the package's test time. Production is unaffected
// by the choice (a rotation makes three connections per host), so only
// the tests take the shortcut.
func quickDial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return quickConn{c.(*net.TCPConn)}, nil
}

type quickConn struct{ *net.TCPConn }

func (c quickConn) Read(p []byte) (int, error) {
	n, err := c.TCPConn.Read(p)
	// TCP_QUICKACK is not sticky: the kernel may return to delayed
	// acknowledgements, so it is set again after every read.
	if sc, serr := c.TCPConn.SyscallConn(); serr == nil {
		_ = sc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
		})
	}
	return n, err
}
