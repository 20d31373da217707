package cli

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ca"
	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/offline"
	"egret.dev/egret/internal/report"
	"egret.dev/egret/internal/source/file"
	"egret.dev/egret/internal/translate"
)

// The flags that mean the same on every command that has them: -f (resources in), -o and --out
// (output format and file), --data-dir, and the old names of renamed flags.

// inputFlags are the flags of every command that reads resources.
type inputFlags struct {
	paths     []string
	expandEnv bool
	cmd       *cobra.Command // whose context (cancelled by Ctrl-C) stops a load
}

func (f *inputFlags) register(cmd *cobra.Command) {
	f.cmd = cmd
	cmd.Flags().StringArrayVarP(&f.paths, "filename", "f", nil, "resource file or directory (repeatable; - reads standard input)")
	cmd.Flags().BoolVar(&f.expandEnv, "expand-env", false, "replace $VAR and ${VAR} with environment values before decoding (like envsubst)")
}

// load reads the resources; decoding problems come back as api.Problems. Ctrl-C stops it at any point,
// even while it waits on a named pipe or standard input.
func (f *inputFlags) load(s streams) (*api.Snapshot, error) {
	ctx := context.Background()
	if f.cmd != nil && f.cmd.Context() != nil {
		ctx = f.cmd.Context()
	}
	return file.LoadContext(ctx, f.paths, file.Options{ExpandEnv: f.expandEnv, Stdin: s.in})
}

// plan loads and translates the resources, every problem to standard error (offline.Plan).
func (f *inputFlags) plan(s streams) (*ir.Plan, error) {
	snap, err := f.load(s)
	return offline.Plan(s.err, snap, err)
}

// translate loads and translates, refusing any invalid resource (offline.Strict).
func (f *inputFlags) translate(s streams) (*translate.Result, error) {
	snap, err := f.load(s)
	return offline.Strict(snap, err)
}

// outputFlags are -o, the output format on every command (to standard output), and --out, a file.
type outputFlags struct {
	format, file string
	formats      []string // what -o takes; the first is the default
}

func addOutput(cmd *cobra.Command, help string, formats ...string) *outputFlags {
	o := &outputFlags{formats: formats}
	cmd.Flags().StringVarP(&o.format, "output", "o", formats[0], help)
	return o
}

func (o *outputFlags) addFile(cmd *cobra.Command, help string) {
	cmd.Flags().StringVar(&o.file, "out", "-", help)
}

// check returns a usage error unless -o is one of the formats. A value that looks like a file name
// gets a hint, since `render -o FILE` wrote a file before --out existed.
func (o *outputFlags) check() error {
	if slices.Contains(o.formats, o.format) {
		return nil
	}
	want := strings.Join(o.formats, "")
	if n := len(o.formats); n > 1 {
		want = strings.Join(o.formats[:n-1], ", ") + " or " + o.formats[n-1]
	}
	if strings.ContainsAny(o.format, "/\\.") || o.format == "-" {
		return usagef("-o %q: want %s; -o is the output format on every command, to write a file use --out %s", o.format, want, o.format)
	}
	return usagef("-o %q: want %s", o.format, want)
}

// write writes v in the -o format to --out, or to standard output when --out is "" or "-".
func (o *outputFlags) write(s streams, v any) error {
	var b bytes.Buffer
	if err := report.Encode(&b, o.format, v); err != nil {
		return err
	}
	return o.writeBytes(s, b.Bytes())
}

// writeBytes writes b to --out, or to standard output when --out is "" or "-".
func (o *outputFlags) writeBytes(s streams, b []byte) error {
	if o.file == "" || o.file == "-" {
		_, err := s.out.Write(b)
		return err
	}
	return os.WriteFile(o.file, b, 0o644)
}

// pairs parses the values of a repeatable KEY=VALUE flag into a map; ok, when set, checks each pair,
// and want is the form a refused value is told to take.
func pairs(flag, want string, vals []string, ok func(k, v string) bool) (map[string]string, error) {
	m := map[string]string{}
	for _, a := range vals {
		k, v, found := strings.Cut(a, "=")
		if !found || (ok != nil && !ok(k, v)) {
			return nil, usagef("%s %q: want %s", flag, a, want)
		}
		m[k] = v
	}
	return m, nil
}

// addDataDirFlag registers --data-dir with the shared default (ca.DefaultDataDir).
func addDataDirFlag(cmd *cobra.Command, v *string, what string) {
	cmd.Flags().StringVar(v, "data-dir", ca.DefaultDataDir(), what+" (default for every command: $"+ca.DataDirEnv+", as root /var/lib/egret, else ~/.local/state/egret)")
}

// deprecatedAlias keeps an old flag name working (hidden, with a note on use) for a flag that was
// renamed so that flags meaning the same have the same name on every command.
func deprecatedAlias(cmd *cobra.Command, old, current string, v *string) {
	cmd.Flags().StringVar(v, old, "", "")
	_ = cmd.Flags().MarkDeprecated(old, "use --"+current)
}
