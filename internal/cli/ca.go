package cli

import (
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"egret.dev/egret/internal/ca"
)

func newCACmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Inspect egret's SPIFFE certificate authority and issue certificates",
	}
	cmd.AddCommand(newCAInitCmd(s), newCABundleCmd(s), newCAIssueCmd(s), newCAServeCmd(s), newCARevokeCmd(s))
	return cmd
}

func newCAInitCmd(s streams) *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a CA (root key 0600 and certificate) in --data-dir, or say that one is there",
		Long: `init creates the CA that 'egret ca issue', 'egret ca bundle' and 'egret token create' use, for a
gateway or sidecar run without 'egret up' or 'egret controlplane' (which create one themselves).`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			existed := ca.Exists(dataDir)
			c, err := ca.New(ca.Params{DataDir: dataDir})
			if err != nil {
				return err
			}
			verb := "created"
			if existed {
				verb = "already there"
			}
			fmt.Fprintf(s.out, "CA %s in %s (root sha256 %s)\n", verb, dataDir, c.RootHash())
			return nil
		},
	}
	addDataDirFlag(cmd, &dataDir, "where to create the CA")
	return cmd
}

func newCABundleCmd(s streams) *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Print the trust bundle (the root certificate, PEM)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c, err := openExistingCA(dataDir)
			if err != nil {
				return err
			}
			_, err = s.out.Write(c.BundlePEM())
			return err
		},
	}
	addDataDirFlag(cmd, &dataDir, "the CA's data directory, as the running egret up or controlplane uses")
	return cmd
}

func newCAIssueCmd(s streams) *cobra.Command {
	var dataDir, id, out string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "issue --identity spiffe://TD/ns/NS/sa/SA --out DIR",
		Short: "Issue an SVID for a workload that cannot run a sidecar (writes svid.pem, key.pem, bundle.pem)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			sid, err := spiffeid.FromString(id)
			if err != nil {
				return usagef("--identity: %w", err)
			}
			if out == "" {
				return usagef("--out is required")
			}
			c, err := openExistingCA(dataDir)
			if err != nil {
				return err
			}
			svid, err := c.IssueFiles(sid, ttl, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.out, "issued %s, expires %s, in %s\n", sid, svid.Certificate.NotAfter.UTC().Format(time.RFC3339), out)
			return nil
		},
	}
	addDataDirFlag(cmd, &dataDir, "the CA's data directory, as the running egret up or controlplane uses")
	cmd.Flags().StringVar(&id, "identity", "", "SPIFFE ID to issue, spiffe://<trustDomain>/ns/<ns>/sa/<sa>")
	cmd.Flags().StringVar(&out, "out", "", "directory to write svid.pem, key.pem (0600) and bundle.pem")
	cmd.Flags().DurationVar(&ttl, "ttl", ca.DefaultSVIDTTL, "certificate lifetime (capped at the root's expiry)")
	return cmd
}

func newCAServeCmd(s streams) *cobra.Command {
	var dataDir, listen, td string
	var svidTTL time.Duration
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the enrollment endpoint alone (join-token enrollment and SVID renewal over TLS)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			trust, err := spiffeid.TrustDomainFromString(td)
			if err != nil {
				return usagef("--trust-domain: %w", err)
			}
			if _, _, err := net.SplitHostPort(listen); err != nil {
				return usagef("--listen: %w", err)
			}
			log := s.log()
			c, err := ca.New(ca.Params{DataDir: dataDir, Logger: log, SVIDTTL: svidTTL})
			if err != nil {
				return err
			}
			return c.ServeEnrollment(cmd.Context(), ca.ServeParams{Listen: listen, TrustDomain: trust, Log: log})
		},
	}
	addDataDirFlag(cmd, &dataDir, "CA data directory, created if missing")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:15012", "address to serve TLS on")
	cmd.Flags().StringVar(&td, "trust-domain", "cluster1", "trust domain of the server's own ID, spiffe://<td>/egret/controlplane")
	cmd.Flags().DurationVar(&svidTTL, "svid-ttl", ca.DefaultSVIDTTL, "lifetime of issued SVIDs")
	return cmd
}

func newCARevokeCmd(s streams) *cobra.Command {
	var dataDir, id, serial, reason string
	cmd := &cobra.Command{
		Use:   "revoke (--identity spiffe://TD/ns/NS/sa/SA | --serial HEX)",
		Short: "Revoke an identity or one certificate: no renewal, and proxies refuse it from their next bundle update",
		Long: `Revoke an identity (every certificate naming it, and any new one) or one certificate by its serial
number (hex, as the CA logs it). The list is kept in the CA data directory (revocations.json, 0600);
a running CA reads it at once, and proxies fetch it with the trust bundle (every minute by default).`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if (id == "") == (serial == "") {
				return usagef("name exactly one of --identity and --serial")
			}
			if id != "" {
				if _, err := spiffeid.FromString(id); err != nil {
					return usagef("--identity: %w", err)
				}
			}
			c, err := openExistingCA(dataDir)
			if err != nil {
				return err
			}
			if err := c.Revoke(ca.Revocation{SPIFFEID: id, Serial: serial, Reason: reason}); err != nil {
				return withCode(ExitUsage, err)
			}
			list, err := c.Revocations()
			if err != nil {
				return err
			}
			what := id
			if what == "" {
				what = "serial " + serial
			}
			fmt.Fprintf(s.out, "revoked %s (%d entries in %s/revocations.json)\n", what, len(list), dataDir)
			return nil
		},
	}
	addDataDirFlag(cmd, &dataDir, "CA data directory")
	cmd.Flags().StringVar(&id, "identity", "", "SPIFFE ID to revoke, spiffe://<trustDomain>/ns/<ns>/sa/<sa>")
	cmd.Flags().StringVar(&serial, "serial", "", "serial number (hex) of one certificate to revoke")
	cmd.Flags().StringVar(&reason, "reason", "", "why, kept in the list")
	return cmd
}

// openExistingCA opens the CA in dataDir and refuses to create one: a token or bundle from a CA that
// nothing serves would be useless, and the error should say where the running one is.
func openExistingCA(dataDir string) (*ca.CA, error) {
	if !ca.Exists(dataDir) {
		return nil, fmt.Errorf("no CA in %s: 'egret up', 'egret controlplane' and 'egret ca serve' create one in their --data-dir when they start; "+
			"start one of them first, or pass --data-dir (or set $%s) to the data directory a running one uses ('egret up' prints it on its 'control plane' line)", dataDir, ca.DataDirEnv)
	}
	return ca.New(ca.Params{DataDir: dataDir})
}

func newTokenCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage join tokens that bootstrap a workload's identity",
	}
	cmd.AddCommand(newTokenCreateCmd(s))
	return cmd
}

func newTokenCreateCmd(s streams) *cobra.Command {
	var dataDir, id string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "create --identity spiffe://TD/ns/NS/sa/SA",
		Short: "Print a single-use join token bound to one SPIFFE ID",
		Long: `Prints a single-use join token bound to exactly one SPIFFE ID. A proxy given the token and the
control plane's address obtains that identity's SVID and nothing else. The token also pins the CA's
root (its SHA-256), so the proxy needs no other trust material. Only a hash is stored.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			sid, err := spiffeid.FromString(id)
			if err != nil {
				return usagef("--identity: %w", err)
			}
			if ttl <= 0 {
				return usagef("--ttl must be positive")
			}
			c, err := openExistingCA(dataDir)
			if err != nil {
				return err
			}
			tok, err := c.Tokens().Create(sid, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(s.out, tok.Encode())
			return nil
		},
	}
	addDataDirFlag(cmd, &dataDir, "the CA's data directory, as the running egret up or controlplane uses")
	cmd.Flags().StringVar(&id, "identity", "", "SPIFFE ID the token grants, spiffe://<trustDomain>/ns/<ns>/sa/<sa>")
	cmd.Flags().DurationVar(&ttl, "ttl", ca.DefaultTokenTTL, "how long the token may be redeemed")
	return cmd
}
