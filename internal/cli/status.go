package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/controlplane"
)

func newStatusCmd(s streams) *cobra.Command {
	var admin, output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show every proxy and resource of a running control plane (like istioctl proxy-status)",
		Long: `status asks a running control plane (its --admin address) for every proxy it has streamed a config
to, with its identity, cluster, kind, the version sent and acknowledged (SYNCED), rejected (NACKED, with
the error) or awaited (STALE), when it was last seen and when its certificate expires; then every
resource with its status, when the control plane last loaded its directory (with the error if that load
was not applied, and the files it skipped or kept at their last good contents), and the problems of a
change that was refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "table", "yaml", "json"); err != nil {
				return err
			}
			st, err := fetchStatus(admin)
			if err != nil {
				return withCode(ExitError, err)
			}
			if output != "table" {
				return encode(s.out, output, st)
			}
			printStatus(s, st)
			return nil
		},
	}
	cmd.Flags().StringVar(&admin, "admin", "127.0.0.1:15014", "the control plane's admin address")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, yaml or json")
	return cmd
}

func fetchStatus(admin string) (*controlplane.Status, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + admin + "/status")
	if err != nil {
		return nil, fmt.Errorf("control plane at %s: %w", admin, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("control plane at %s answered %s", admin, resp.Status)
	}
	var st controlplane.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("control plane at %s: %w", admin, err)
	}
	return &st, nil
}

func printStatus(s streams, st *controlplane.Status) {
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tCLUSTER\tIDENTITY\tVERSION\tSTATE\tLAST SEEN\tCERT EXPIRES")
	for _, p := range st.Proxies {
		state := p.State()
		if !p.Connected {
			state += " (disconnected)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Kind, p.Cluster, p.Identity, dash(p.Sent), state,
			ago(p.LastSeen), p.CertExpiry.UTC().Format(time.RFC3339))
	}
	tw.Flush()
	for _, p := range st.Proxies {
		if p.Nack != "" {
			fmt.Fprintf(s.out, "NACK from %s: %s\n", p.Name, p.Nack)
		}
	}
	fmt.Fprintln(s.out)
	tw = tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESOURCE\tSTATUS")
	for _, r := range st.Resources {
		fmt.Fprintf(tw, "%s\t%s\n", r.Object, r.State)
	}
	tw.Flush()
	for _, r := range st.Resources {
		for _, p := range r.Problems {
			fmt.Fprintln(s.out, "  "+p)
		}
	}
	printLoad(s, st)
	if len(st.Rejected) > 0 {
		fmt.Fprintf(s.out, "\nThe newest change was REJECTED; the configuration applied at %s is still served:\n  %s\n",
			st.Applied.UTC().Format(time.RFC3339), strings.Join(st.Rejected, "\n  "))
	}
}

// printLoad says when the control plane last read its directory and what came of it.
func printLoad(s streams, st *controlplane.Status) {
	if st.ConfigDir == "" && st.Loaded.IsZero() {
		return // an older control plane
	}
	fmt.Fprintf(s.out, "\nDirectory %s last loaded %s", st.ConfigDir, ago(st.Loaded))
	if st.LoadError != "" {
		fmt.Fprintf(s.out, ": FAILED: %s\n", st.LoadError)
	} else {
		fmt.Fprintf(s.out, ": applied\n")
	}
	for _, w := range st.LoadWarnings {
		fmt.Fprintln(s.out, "  "+w)
	}
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}
