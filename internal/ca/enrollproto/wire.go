package enrollproto

import "time"

// Paths served by the CA's enrollment handler.
const (
	PathEnroll = "/v1/enroll"
	PathRenew  = "/v1/renew"
	// PathBundle (GET, with a valid SVID as the client certificate) answers a BundleResponse, so a
	// proxy learns of revocations between two renewals.
	PathBundle = "/v1/bundle"
)

// MaxBodyBytes bounds a request body; a CSR is well under 4 KiB.
const MaxBodyBytes = 64 << 10

// ControlPlanePath is the SPIFFE ID path of the control plane's own server certificate; a proxy
// accepts a server only if it presents this path under any trust domain signed by the pinned root.
const ControlPlanePath = "/egret/controlplane"

// EnrollRequest trades a join token and a CSR for an SVID. The CSR may leave out the URI SAN
// (the token decides the identity); if it names one, it must be the token's identity.
type EnrollRequest struct {
	Token  string `json:"token"`
	CSRPEM string `json:"csr"`
}

// RenewRequest asks for a fresh SVID for the identity of the client certificate presented on the
// connection; the CSR may name that identity and no other.
type RenewRequest struct {
	CSRPEM string `json:"csr"`
}

// SVIDResponse is the answer to both calls.
type SVIDResponse struct {
	SPIFFEID  string    `json:"spiffe_id"`
	SVIDPEM   string    `json:"svid"`   // leaf first; the root is in the bundle
	BundlePEM string    `json:"bundle"` // the root(s) that sign every trust domain
	ExpiresAt time.Time `json:"expires_at"`
	Revocations
}

// Revocations travel with the bundle: a proxy refuses a peer whose certificate's serial (lowercase
// hex) or SPIFFE ID is listed.
type Revocations struct {
	RevokedIDs     []string `json:"revoked_ids,omitempty"`
	RevokedSerials []string `json:"revoked_serials,omitempty"`
}

// BundleResponse is the answer to PathBundle.
type BundleResponse struct {
	BundlePEM string `json:"bundle"`
	Revocations
}

// ErrorResponse is the body of every non-2xx answer.
type ErrorResponse struct {
	Code    string `json:"error"`
	Message string `json:"message"`
}

// Error codes. The token codes are deliberately coarse: a caller learns that the token was
// refused, not whether it ever existed.
const (
	CodeBadRequest       = "bad_request"
	CodeTokenRejected    = "token_rejected"
	CodeCSRRejected      = "csr_rejected"
	CodeUnauthenticated  = "unauthenticated"
	CodeIdentityMismatch = "identity_mismatch"
	CodeTooLarge         = "too_large"
	CodeMethod           = "method_not_allowed"
	CodeInternal         = "internal"
	CodeRateLimited      = "rate_limited"
	CodeRevoked          = "revoked"
	CodeNotConfigured    = "not_configured"
)
