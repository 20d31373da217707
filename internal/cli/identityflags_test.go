package cli

import (
	"testing"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/proxyrun"
)

func TestControlPlaneTakesSeveralAddresses(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    string
		wantErr bool
	}{
		{"one address", []string{"--control-plane", "a:15012"}, "a:15012", false},
		{"a comma list", []string{"--control-plane", "a:15012,b:15012"}, "a:15012,b:15012", false},
		{"the flag repeated", []string{"--control-plane", "a:15012", "--control-plane", "b:15012"}, "a:15012,b:15012", false},
		{"an address without a port", []string{"--control-plane", "a"}, "", true},
		{"an empty entry", []string{"--control-plane", "a:15012,,b:15012"}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var id proxyrun.Identity
			cmd := &cobra.Command{}
			bindProxyFlags(cmd, &id, &proxyrun.AccessLog{}, new(bool))
			err := cmd.ParseFlags(tc.args)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && id.ControlPlane != tc.want {
				t.Fatalf("got %q, want %q", id.ControlPlane, tc.want)
			}
		})
	}
}
