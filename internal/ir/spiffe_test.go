package ir

import "testing"

func TestParseSpiffeID(t *testing.T) {
	tests := []struct {
		name, in, err string
		want          SpiffeID
	}{
		{name: "workload identity", in: "spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage",
			want: SpiffeID{TrustDomain: "cluster1", Namespace: "bookinfo", ServiceAccount: "bookinfo-productpage"}},
		{name: "wrong scheme", in: "https://cluster1/ns/a/sa/b", err: `SPIFFE ID "https://cluster1/ns/a/sa/b": must start with spiffe://`},
		{name: "not an Istio workload path", in: "spiffe://cluster1/workload/a",
			err: `SPIFFE ID "spiffe://cluster1/workload/a": must be spiffe://<trust domain>/ns/<namespace>/sa/<service account>`},
		{name: "empty service account", in: "spiffe://cluster1/ns/a/sa/",
			err: `SPIFFE ID "spiffe://cluster1/ns/a/sa/": empty trust domain, namespace or service account`},
		{name: "upper-case trust domain", in: "spiffe://Cluster1/ns/a/sa/b", err: `SPIFFE ID "spiffe://Cluster1/ns/a/sa/b": trust domain must be lower-case`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSpiffeID(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want || got.String() != tt.in {
				t.Fatalf("got %+v (%s), %v", got, got, err)
			}
		})
	}
}

func FuzzParseSpiffeID(f *testing.F) {
	f.Add("spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage")
	f.Add("spiffe:///ns//sa/")
	f.Add("spiffe://td/ns/a/sa/b/c")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseSpiffeID(s)
		if err != nil {
			return
		}
		back, err := ParseSpiffeID(id.String())
		if err != nil || back != id {
			t.Fatalf("%q parsed to %+v, which does not round-trip: %v", s, id, err)
		}
	})
}
