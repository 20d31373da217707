package ca

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"egret.dev/egret/internal/ca/enrollproto"
)

// NewEnrollHandler serves the enrollment API (enrollproto.PathEnroll and PathRenew). Mount it on
// a server whose TLS config comes from ServerTLSConfig: renewal trusts only client certificates
// that crypto/tls verified against this CA's root.
func NewEnrollHandler(c *CA) http.Handler {
	mux := http.NewServeMux()
	h := &enrollHandler{ca: c, log: c.enrollLog, mux: mux}
	mux.HandleFunc(enrollproto.PathEnroll, h.enroll)
	mux.HandleFunc(enrollproto.PathRenew, h.renew)
	mux.HandleFunc(enrollproto.PathBundle, h.bundle)
	return h
}

type enrollHandler struct {
	ca  *CA
	log *slog.Logger
	mux *http.ServeMux
}

// ServeHTTP charges the call to its source address before anything else is done for it.
func (h *enrollHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.ca.limit.flush()
	src := sourceOf(r.RemoteAddr)
	if ok, wait := h.ca.limit.allow(src); !ok {
		h.refused(r, h.log.With("path", r.URL.Path, "remote", r.RemoteAddr), "enrollment rate limited", "retry_after", wait.Round(time.Second).String())
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)))
		writeError(w, http.StatusTooManyRequests, enrollproto.CodeRateLimited, "too many enrollment calls from this address; retry later")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// refused logs a refusal through the per-source throttle, so a flood of bad calls cannot flood the log.
func (h *enrollHandler) refused(r *http.Request, log *slog.Logger, msg string, args ...any) {
	h.ca.limit.refused(sourceOf(r.RemoteAddr), log, msg, args...)
}

func (h *enrollHandler) enroll(w http.ResponseWriter, r *http.Request) {
	var req enrollproto.EnrollRequest
	if !h.decode(w, r, &req) {
		return
	}
	log := h.log.With("op", "enroll", "remote", r.RemoteAddr)
	tok, err := enrollproto.ParseToken(req.Token)
	if err != nil {
		h.refused(r, log, "enroll refused", "reason", err.Error())
		writeError(w, http.StatusUnauthorized, enrollproto.CodeTokenRejected, "join token is malformed, unknown, expired or already used")
		return
	}
	log = log.With("token", tok) // Token.LogValue prints no secret
	id, err := h.ca.tokens.Redeem(tok)
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) {
			h.refused(r, log, "enroll refused", "reason", te.Reason)
			writeError(w, http.StatusUnauthorized, enrollproto.CodeTokenRejected, "join token is malformed, unknown, expired or already used")
			return
		}
		log.Error("enroll failed", "err", err)
		writeError(w, http.StatusInternalServerError, enrollproto.CodeInternal, "internal error")
		return
	}
	log = log.With("spiffe_id", id.String())
	if !h.mayHold(w, r, log, "enroll", id, nil) {
		return
	}
	h.issue(w, log, []byte(req.CSRPEM), id)
}

// mayHold refuses, and answers the caller, when id (or the certificate cert it renews) is revoked or
// when the control plane no longer configures id (checked for renewals; a join token was minted
// for its identity on purpose). A revocation list that cannot be read refuses: revocations fail closed.
func (h *enrollHandler) mayHold(w http.ResponseWriter, r *http.Request, log *slog.Logger, op string, id spiffeid.ID, cert *x509.Certificate) bool {
	list, err := h.ca.Revocations()
	if err != nil {
		log.Error(op+" refused: cannot read the revocation list", "err", err)
		writeError(w, http.StatusServiceUnavailable, enrollproto.CodeInternal, "the CA cannot read its revocation list")
		return false
	}
	if identityRevoked(list, id) || cert != nil && RevokedCert(list, cert) {
		h.refused(r, log, op+" refused", "reason", "revoked")
		writeError(w, http.StatusForbidden, enrollproto.CodeRevoked, "this identity or certificate is revoked")
		return false
	}
	if cert != nil && h.ca.allowed != nil && !h.ca.allowed(id) {
		h.refused(r, log, op+" refused", "reason", "identity is not configured (no Workload or gateway has it)")
		writeError(w, http.StatusForbidden, enrollproto.CodeNotConfigured, "this identity is no longer configured")
		return false
	}
	return true
}

// verifiedLeaf is the client certificate crypto/tls verified against the root, if still valid now.
func (h *enrollHandler) verifiedLeaf(r *http.Request) (*x509.Certificate, string) {
	// Only crypto/tls's verified chains count: a certificate that was merely presented proves nothing.
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil, "no verified client certificate"
	}
	leaf := r.TLS.VerifiedChains[0][0]
	if now := h.ca.clock.Now(); now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return nil, "client certificate outside its validity"
	}
	return leaf, ""
}

// bundle answers the trust bundle and the revocation list to a proxy holding a valid SVID.
func (h *enrollHandler) bundle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, enrollproto.CodeMethod, "use GET")
		return
	}
	log := h.log.With("op", "bundle", "remote", r.RemoteAddr)
	leaf, why := h.verifiedLeaf(r)
	if leaf == nil {
		h.refused(r, log, "bundle refused", "reason", why)
		writeError(w, http.StatusUnauthorized, enrollproto.CodeUnauthenticated, "the bundle is served to holders of a valid SVID from this CA")
		return
	}
	list, err := h.ca.Revocations()
	if err != nil {
		log.Error("bundle refused: cannot read the revocation list", "err", err)
		writeError(w, http.StatusServiceUnavailable, enrollproto.CodeInternal, "the CA cannot read its revocation list")
		return
	}
	ids, serials := splitRevocations(list)
	writeJSON(w, http.StatusOK, enrollproto.BundleResponse{
		BundlePEM:   string(h.ca.BundlePEM()),
		Revocations: enrollproto.Revocations{RevokedIDs: ids, RevokedSerials: serials},
	})
}

func (h *enrollHandler) renew(w http.ResponseWriter, r *http.Request) {
	var req enrollproto.RenewRequest
	if !h.decode(w, r, &req) {
		return
	}
	log := h.log.With("op", "renew", "remote", r.RemoteAddr)
	leaf, why := h.verifiedLeaf(r)
	if leaf == nil {
		h.refused(r, log, "renew refused", "reason", why)
		writeError(w, http.StatusUnauthorized, enrollproto.CodeUnauthenticated, "renewal needs a valid SVID from this CA as the TLS client certificate")
		return
	}
	id, err := x509svid.IDFromCert(leaf)
	if err != nil {
		h.refused(r, log, "renew refused", "reason", "client certificate is not an SVID: "+err.Error())
		writeError(w, http.StatusUnauthorized, enrollproto.CodeUnauthenticated, "client certificate is not an SVID")
		return
	}
	log = log.With("spiffe_id", id.String(), "serial", leaf.SerialNumber.Text(16))
	if !h.mayHold(w, r, log, "renew", id, leaf) {
		return
	}
	csr, err := ParseCSR([]byte(req.CSRPEM))
	if err == nil {
		err = CheckCSR(csr, id)
	}
	if err != nil {
		var ce *CSRError
		if errors.As(err, &ce) && ce.Mismatch {
			h.refused(r, log, "renew refused", "reason", ce.Reason)
			writeError(w, http.StatusForbidden, enrollproto.CodeIdentityMismatch, ce.Error())
			return
		}
	}
	h.issue(w, log, []byte(req.CSRPEM), id)
}

func (h *enrollHandler) issue(w http.ResponseWriter, log *slog.Logger, csr []byte, id spiffeid.ID) {
	svid, err := h.ca.SignCSR(csr, id, 0)
	if err != nil {
		var ce *CSRError
		if errors.As(err, &ce) {
			log.Warn("issuance refused", "reason", ce.Reason)
			writeError(w, http.StatusBadRequest, enrollproto.CodeCSRRejected, ce.Error())
			return
		}
		log.Error("issuance failed", "err", err)
		writeError(w, http.StatusInternalServerError, enrollproto.CodeInternal, "internal error")
		return
	}
	log.Info("issuance granted", "new_serial", svid.Certificate.SerialNumber.Text(16), "not_after", svid.Certificate.NotAfter)
	list, _ := h.ca.Revocations() // read just before, by mayHold
	ids, serials := splitRevocations(list)
	writeJSON(w, http.StatusOK, enrollproto.SVIDResponse{
		Revocations: enrollproto.Revocations{RevokedIDs: ids, RevokedSerials: serials},
		SPIFFEID:    id.String(),
		SVIDPEM:     string(svid.PEM()),
		BundlePEM:   string(h.ca.BundlePEM()),
		ExpiresAt:   svid.Certificate.NotAfter.UTC(),
	})
}

// decode reads a size-limited, strict JSON body into v, answering the caller itself on failure.
func (h *enrollHandler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, enrollproto.CodeMethod, "use POST")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, enrollproto.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.refused(r, h.log, "request refused", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", "body too large")
			writeError(w, http.StatusRequestEntityTooLarge, enrollproto.CodeTooLarge, "request body too large")
			return false
		}
		// The decoder's message may quote the body, which may hold a token: keep it out of the log.
		h.refused(r, h.log, "request refused", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", "invalid JSON body")
		writeError(w, http.StatusBadRequest, enrollproto.CodeBadRequest, "body must be a JSON object with the documented fields")
		return false
	}
	return true
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, enrollproto.ErrorResponse{Code: code, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
