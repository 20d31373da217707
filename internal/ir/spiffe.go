package ir

import (
	"fmt"
	"strings"
)

// SpiffeID is a workload identity of the form spiffe://<trust domain>/ns/<namespace>/sa/<service account>.
// The zero value means "no identity" (an unauthenticated caller).
type SpiffeID struct {
	TrustDomain    string
	Namespace      string
	ServiceAccount string
}

// NewSpiffeID builds the identity of a service account in a trust domain.
func NewSpiffeID(trustDomain, namespace, serviceAccount string) SpiffeID {
	return SpiffeID{TrustDomain: trustDomain, Namespace: namespace, ServiceAccount: serviceAccount}
}

// ParseSpiffeID parses spiffe://td/ns/NS/sa/SA; only Istio-style workload paths are accepted because the
// access rules match on namespace and service account.
func ParseSpiffeID(s string) (SpiffeID, error) {
	rest, ok := strings.CutPrefix(s, "spiffe://")
	if !ok {
		return SpiffeID{}, fmt.Errorf("SPIFFE ID %q: must start with spiffe://", s)
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 5 || parts[1] != "ns" || parts[3] != "sa" {
		return SpiffeID{}, fmt.Errorf("SPIFFE ID %q: must be spiffe://<trust domain>/ns/<namespace>/sa/<service account>", s)
	}
	for _, p := range []string{parts[0], parts[2], parts[4]} {
		if p == "" {
			return SpiffeID{}, fmt.Errorf("SPIFFE ID %q: empty trust domain, namespace or service account", s)
		}
	}
	if strings.ToLower(parts[0]) != parts[0] {
		return SpiffeID{}, fmt.Errorf("SPIFFE ID %q: trust domain must be lower-case", s)
	}
	return SpiffeID{TrustDomain: parts[0], Namespace: parts[2], ServiceAccount: parts[4]}, nil
}

// IsZero reports whether the ID is absent.
func (id SpiffeID) IsZero() bool { return id == SpiffeID{} }

func (id SpiffeID) String() string {
	if id.IsZero() {
		return ""
	}
	return "spiffe://" + id.TrustDomain + "/ns/" + id.Namespace + "/sa/" + id.ServiceAccount
}

// MarshalText writes the URI form, so plans read naturally in JSON and YAML.
func (id SpiffeID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses the URI form; an empty string is the zero ID.
func (id *SpiffeID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*id = SpiffeID{}
		return nil
	}
	v, err := ParseSpiffeID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
