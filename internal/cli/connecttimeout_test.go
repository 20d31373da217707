package cli

import (
	"testing"

	"egret.dev/egret/internal/sidecar"
)

// The sidecar's gateway connect timeout is one flag, with one name and default, on 'egret sidecar' and
// on 'egret up', which passes it to every sidecar it starts.
func TestTheGatewayConnectTimeoutFlagIsTheSameOnSidecarAndUp(t *testing.T) {
	for _, cmd := range []string{"sidecar", "up"} {
		t.Run(cmd, func(t *testing.T) {
			c := newSidecarCmd(streams{})
			if cmd == "up" {
				c = newUpCmd(streams{})
			}
			fl := c.Flags().Lookup("gateway-connect-timeout")
			if fl == nil {
				t.Fatal("no --gateway-connect-timeout")
			}
			if fl.DefValue != sidecar.DefaultConnectTimeout.String() {
				t.Errorf("default %s, want %s", fl.DefValue, sidecar.DefaultConnectTimeout)
			}
		})
	}
}
