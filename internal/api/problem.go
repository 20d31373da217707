package api

import (
	"fmt"
	"strings"
)

// Severity of a Problem: errors make a resource invalid, warnings do not.
type Severity int

const (
	SeverityError Severity = iota
	SeverityWarning
)

func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Problem is one finding about one object, positioned in the user's file.
type Problem struct {
	Severity Severity
	Source   Source
	Object   string // "Kind namespace/name"; empty for a file-level problem
	Path     string // field path, e.g. spec.ports[0].egressGatewayRoutes.portMatch
	Message  string
}

// Error formats the problem as file:line: Kind ns/name: path: message.
func (p Problem) Error() string {
	s := ""
	if p.Source.File != "" {
		s = p.Source.File
		if p.Source.Line > 0 {
			s += fmt.Sprintf(":%d", p.Source.Line)
		}
		s += ": "
	}
	if p.Severity == SeverityWarning {
		s += "warning: "
	}
	if p.Object != "" {
		s += p.Object + ": "
	}
	if p.Path != "" {
		s += p.Path + ": "
	}
	return s + p.Message
}

// Problems is a list of problems usable as an error; each prints on its own line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Errors returns the error-severity problems.
func (ps Problems) Errors() Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == SeverityError {
			out = append(out, p)
		}
	}
	return out
}
