package splice

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps this data-plane package light: the standard library,
// no other egret package, and only the dependency named here.
func TestImports(t *testing.T) {
	extra := map[string]bool{"github.com/miekg/dns": false}
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.Contains(strings.Split(path, "/")[0], ".") && !extra[path] {
				t.Errorf("%s imports %s: only the standard library is allowed here", f, path)
			}
		}
	}
}
