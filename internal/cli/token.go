package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"egret.dev/egret/internal/ca"
)

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
