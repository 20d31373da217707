package ca_test

import (
	"testing"

	"egret.dev/egret/internal/ca"
)

// FuzzCheckCSR feeds arbitrary bytes to the CSR parser and rule check: refusals, never panics,
// and nothing accepted that names another identity.
func FuzzCheckCSR(f *testing.F) {
	key := newKey(f)
	f.Add(makeCSR(f, key, csrSpec{uris: []string{idA.String()}}))
	f.Add(makeCSR(f, key, csrSpec{uris: []string{idB.String()}, dns: []string{"x.example"}}))
	f.Add(makeCSR(f, key, csrSpec{isCA: true}))
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, err := ca.ParseCSR(data)
		if err != nil {
			return
		}
		if ca.CheckCSR(csr, idA) == nil {
			for _, u := range csr.URIs {
				if u.String() != idA.String() {
					t.Fatalf("accepted a CSR naming %s", u)
				}
			}
			if len(csr.DNSNames)+len(csr.IPAddresses)+len(csr.EmailAddresses) > 0 {
				t.Fatal("accepted a CSR with extra SANs")
			}
		}
	})
}
