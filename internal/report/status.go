package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"egret.dev/egret/internal/controlplane"
)

// Status writes a running control plane's status: its proxies, its resources and its last load.
func Status(w io.Writer, st *controlplane.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
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
			fmt.Fprintf(w, "NACK from %s: %s\n", p.Name, p.Nack)
		}
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESOURCE\tSTATUS")
	for _, r := range st.Resources {
		fmt.Fprintf(tw, "%s\t%s\n", r.Object, r.State)
	}
	tw.Flush()
	for _, r := range st.Resources {
		for _, p := range r.Problems {
			fmt.Fprintln(w, "  "+p)
		}
	}
	printLoad(w, st)
	if len(st.Rejected) > 0 {
		fmt.Fprintf(w, "\nThe newest change was REJECTED; the configuration applied at %s is still served:\n  %s\n",
			st.Applied.UTC().Format(time.RFC3339), strings.Join(st.Rejected, "\n  "))
	}
}

// printLoad says when the control plane last read its directory and what came of it.
func printLoad(w io.Writer, st *controlplane.Status) {
	if st.ConfigDir == "" && st.Loaded.IsZero() {
		return // an older control plane
	}
	fmt.Fprintf(w, "\nDirectory %s last loaded %s", st.ConfigDir, ago(st.Loaded))
	if st.LoadError != "" {
		fmt.Fprintf(w, ": FAILED: %s\n", st.LoadError)
	} else {
		fmt.Fprintf(w, ": applied\n")
	}
	for _, warning := range st.LoadWarnings {
		fmt.Fprintln(w, "  "+warning)
	}
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}
