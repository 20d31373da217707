package sidecar

import (
	"context"
	"net"
	"syscall"

	"egret.dev/egret/internal/ownlisteners"
)

// refusingOwn is a copy of d that, before any connection, refuses egret's own listeners and then runs
// d's own control function (the bypass mark of transparent mode), so that no call the sidecar makes
// itself (passthrough, a direct service, its endpoints) reaches the control plane, a CA, an admin port
// or a proxy.
func refusingOwn(d *net.Dialer, own *ownlisteners.Registry) *net.Dialer {
	c := *d
	if next := d.ControlContext; next != nil {
		// ControlContext takes precedence over Control in net.Dialer: wrap the one that runs.
		c.ControlContext = func(ctx context.Context, network, address string, rc syscall.RawConn) error {
			if err := own.Control(network, address, rc); err != nil {
				return err
			}
			return next(ctx, network, address, rc)
		}
		return &c
	}
	next := d.Control
	c.Control = func(network, address string, rc syscall.RawConn) error {
		if err := own.Control(network, address, rc); err != nil {
			return err
		}
		if next != nil {
			return next(network, address, rc)
		}
		return nil
	}
	return &c
}
