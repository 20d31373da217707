// Package offline runs the control plane's pipeline on resources read from files, for the commands that
// answer without a running control plane (validate, check, get, render): the same decoding,
// validation and translation, and the rule that a plan with an invalid resource is never used.
package offline

import (
	"errors"
	"fmt"
	"io"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/translate"
)

// Plan translates snap, the snapshot loaded with error loadErr, and writes every problem to errw. An
// input that does not decode or has an invalid resource is refused, because answering from a partial
// plan could allow what the full one denies.
func Plan(errw io.Writer, snap *api.Snapshot, loadErr error) (*ir.Plan, error) {
	var decode api.Problems
	if loadErr != nil && !errors.As(loadErr, &decode) {
		return nil, loadErr
	}
	for _, p := range decode {
		fmt.Fprintln(errw, p.Error())
	}
	res := translate.Translate(snap)
	for _, p := range res.Problems() {
		fmt.Fprintln(errw, p.Error())
	}
	// Objects of Gloo kinds egret does not implement are errors on themselves, and ignored: they block nothing.
	if len(decode.Blocking()) > 0 || len(api.Problems(res.Problems()).Blocking()) > 0 {
		return nil, errors.New("invalid input: fix the errors above")
	}
	return res.Plan, nil
}

// Strict translates snap, the snapshot loaded with error loadErr; any problem that makes a resource
// invalid is the error, because a proxy config cut from a partial plan would silently drop that resource.
func Strict(snap *api.Snapshot, loadErr error) (*translate.Result, error) {
	var problems api.Problems
	if loadErr != nil && !errors.As(loadErr, &problems) {
		return nil, loadErr
	}
	res := translate.Translate(snap)
	problems = append(problems, res.Problems()...)
	if errs := problems.Blocking(); len(errs) > 0 {
		return nil, errs
	}
	return res, nil
}

// Validate writes every problem of snap, the snapshot loaded with error loadErr, and a count to w; ok is
// false when any is an error. Translation validates too, and adds what only it sees (a VirtualGateway
// selecting no gateway, a policy selecting no service), so this reports what the control plane would.
func Validate(w io.Writer, snap *api.Snapshot, loadErr error) (ok bool, err error) {
	var problems api.Problems
	if loadErr != nil && !errors.As(loadErr, &problems) {
		return false, loadErr
	}
	problems = append(problems, translate.Translate(snap).Problems()...)
	for _, p := range problems {
		fmt.Fprintln(w, p.Error())
	}
	errs := len(problems.Errors())
	warns := len(problems) - errs
	n := len(snap.Objects())
	if errs > 0 {
		fmt.Fprintf(w, "%d %s, %d %s in %d valid %s\n", errs, plural(errs, "error"), warns, plural(warns, "warning"), n, plural(n, "object"))
		return false, nil
	}
	fmt.Fprintf(w, "%d %s valid", n, plural(n, "object"))
	if warns > 0 {
		fmt.Fprintf(w, ", %d %s", warns, plural(warns, "warning"))
	}
	fmt.Fprintln(w)
	return true, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
