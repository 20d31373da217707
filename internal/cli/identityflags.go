package cli

import (
	"fmt"
	"net"
	"strings"

	"github.com/spf13/cobra"
)

// identityFlags say where a proxy's SVID comes from: files (from `egret ca issue`), a join token and the
// control plane's address, or a SPIFFE Workload API socket (SPIRE).
type identityFlags struct {
	cert, key, bundle string
	controlPlane      string
	token             string
	dataDir           string
	workloadAPI       string
	configProtocol    string // how configs stream from the control plane (stream.go)
}

func (f *identityFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.cert, "cert", "", "SVID certificate chain (PEM), with --key and --bundle")
	fl.StringVar(&f.key, "key", "", "the SVID's private key (PEM)")
	fl.StringVar(&f.bundle, "bundle", "", "the mesh trust bundle (PEM)")
	fl.Var((*addressList)(&f.controlPlane), "control-plane", "enroll with and stream the config from the control plane at host:port (its TLS port, 15012) using --token; "+
		"several control planes sharing one data dir and config dir: repeat the flag or list them, a:15012,b:15012 (the proxy fails over in turn)")
	fl.StringVar(&f.token, "token", "", "single-use join token from 'egret token create' (with --control-plane)")
	fl.StringVar(&f.dataDir, "identity-dir", "", "keep the enrolled SVID here (key 0600) so a restart renews it without a new token")
	fl.StringVar(&f.configProtocol, "config-protocol", protocolXDS, "how the config streams from --control-plane: "+protocolXDS+" (delta xDS over gRPC), the only protocol")
	fl.StringVar(&f.workloadAPI, "workload-api", "", "get the SVID from a SPIFFE Workload API socket (SPIRE), e.g. unix:///run/spire/agent.sock")
}

// addressList is a string flag that may be repeated: the values are joined with commas, the form the
// identity and config clients split (--control-plane a:15012 --control-plane b:15012 = a:15012,b:15012).
type addressList string

func (a *addressList) String() string { return string(*a) }

func (a *addressList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return fmt.Errorf("%q: an empty address", v)
		}
		if _, _, err := net.SplitHostPort(part); err != nil {
			return fmt.Errorf("%q: want host:port: %w", part, err)
		}
	}
	if *a != "" {
		v = string(*a) + "," + v
	}
	*a = addressList(v)
	return nil
}

func (a *addressList) Type() string { return "host:port[,host:port...]" }
