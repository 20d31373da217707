package cli

import (
	"strings"
	"testing"
)

// check says which workspace rule showed or hid the service.
func TestCheckSaysWhichWorkspaceRuleApplies(t *testing.T) {
	const in = "../translate/testdata/workspaces.in.yaml"
	tests := []struct {
		name, from string
		code       int
		line       string
	}{
		{
			name: "an importer is told which settings share the service",
			from: "web-frontend/frontend", code: ExitOK,
			line: "workspace: visible: service in workspace app, imported by workspace web via WorkspaceSettings web-frontend/web-settings (exported by WorkspaceSettings app/app-settings)\n",
		},
		{
			name: "a workspace that imports without an export is told the service is hidden",
			from: "third/snoop", code: ExitDenied,
			line: "workspace: hidden: in workspace app, not shared with workspace third (shared with gateways, web)\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, "", "check", "-f", in, "--from-workload", tt.from, "--to", "http://api.example.com/")
			if code != tt.code || !strings.Contains(out, tt.line) {
				t.Errorf("exit %d, want %d; output:\n%s%s\nwant a line:\n%s", code, tt.code, out, errs, tt.line)
			}
		})
	}
}
