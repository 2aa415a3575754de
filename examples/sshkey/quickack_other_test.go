//go:build !linux

package main

import (
	"context"
	"net"
)

// quickDial is a plain dial where TCP_QUICKACK does not exist.
func quickDial(ctx context.Context, network, addr string) (net.Conn, error) {
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}
