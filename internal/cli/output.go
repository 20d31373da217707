package cli

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/report"
)

// -o is the output format on every command (table, yaml or json, to standard output); --out is a file.

// checkOutput returns a usage error unless format is one of want. A value that looks like a file name
// gets a hint, since `render -o FILE` wrote a file before --out existed.
func checkOutput(format string, want ...string) error {
	if slices.Contains(want, format) {
		return nil
	}
	msg := fmt.Sprintf("-o %q: want %s", format, orList(want))
	if strings.ContainsAny(format, "/\\.") || format == "-" {
		msg += fmt.Sprintf("; -o is the output format on every command, to write a file use --out %s", format)
	}
	return withCode(ExitUsage, fmt.Errorf("%s", msg))
}

func orList(xs []string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

// writeOutput writes v as format to the file path, or to standard output when path is "" or "-".
func writeOutput(s streams, path, format string, v any) error {
	if path == "" || path == "-" {
		if err := report.Encode(s.out, format, v); err != nil {
			return withCode(ExitError, err)
		}
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return withCode(ExitError, err)
	}
	if err := report.Encode(f, format, v); err != nil {
		f.Close()
		return withCode(ExitError, err)
	}
	if err := f.Close(); err != nil {
		return withCode(ExitError, err)
	}
	return nil
}

// writeFile writes b to the file path, or to standard output when path is "" or "-".
func writeFile(s streams, path string, b []byte) error {
	var err error
	if path == "" || path == "-" {
		_, err = s.out.Write(b)
	} else {
		err = os.WriteFile(path, b, 0o644)
	}
	if err != nil {
		return withCode(ExitError, err)
	}
	return nil
}

// deprecatedAlias keeps an old flag name working (hidden, with a note on use) for a flag that was
// renamed so that flags meaning the same have the same name on every command.
func deprecatedAlias(cmd *cobra.Command, old, current string, v *string) {
	cmd.Flags().StringVar(v, old, "", "")
	_ = cmd.Flags().MarkDeprecated(old, "use --"+current)
}
