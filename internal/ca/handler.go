package ca

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"egret.dev/egret/internal/ca/enrollproto"
)

// NewEnrollHandler serves the enrollment API (enrollproto.PathEnroll and PathRenew). Mount it on
// a server whose TLS config comes from ServerTLSConfig: renewal trusts only client certificates
// that crypto/tls verified against this CA's root.
func NewEnrollHandler(c *CA) http.Handler {
	mux := http.NewServeMux()
	h := &enrollHandler{ca: c, log: c.log.With("component", "ca-enroll")}
	mux.HandleFunc(enrollproto.PathEnroll, h.enroll)
	mux.HandleFunc(enrollproto.PathRenew, h.renew)
	return mux
}

type enrollHandler struct {
	ca  *CA
	log *slog.Logger
}

func (h *enrollHandler) enroll(w http.ResponseWriter, r *http.Request) {
	var req enrollproto.EnrollRequest
	if !h.decode(w, r, &req) {
		return
	}
	log := h.log.With("op", "enroll", "remote", r.RemoteAddr)
	tok, err := enrollproto.ParseToken(req.Token)
	if err != nil {
		log.Warn("enroll refused", "reason", err.Error())
		writeError(w, http.StatusUnauthorized, enrollproto.CodeTokenRejected, "join token is malformed, unknown, expired or already used")
		return
	}
	log = log.With("token", tok) // Token.LogValue prints no secret
	id, err := h.ca.tokens.Redeem(tok)
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) {
			log.Warn("enroll refused", "reason", te.Reason)
			writeError(w, http.StatusUnauthorized, enrollproto.CodeTokenRejected, "join token is malformed, unknown, expired or already used")
			return
		}
		log.Error("enroll failed", "err", err)
		writeError(w, http.StatusInternalServerError, enrollproto.CodeInternal, "internal error")
		return
	}
	h.issue(w, log.With("spiffe_id", id.String()), []byte(req.CSRPEM), id)
}

func (h *enrollHandler) renew(w http.ResponseWriter, r *http.Request) {
	var req enrollproto.RenewRequest
	if !h.decode(w, r, &req) {
		return
	}
	log := h.log.With("op", "renew", "remote", r.RemoteAddr)
	// Only crypto/tls's verified chains count: a certificate that was merely presented proves nothing.
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		log.Warn("renew refused", "reason", "no verified client certificate")
		writeError(w, http.StatusUnauthorized, enrollproto.CodeUnauthenticated, "renewal needs a valid SVID from this CA as the TLS client certificate")
		return
	}
	leaf := r.TLS.VerifiedChains[0][0]
	if now := h.ca.clock.Now(); now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		log.Warn("renew refused", "reason", "client certificate outside its validity", "not_after", leaf.NotAfter)
		writeError(w, http.StatusUnauthorized, enrollproto.CodeUnauthenticated, "client certificate is expired or not yet valid")
		return
	}
	id, err := x509svid.IDFromCert(leaf)
	if err != nil {
		log.Warn("renew refused", "reason", "client certificate is not an SVID: "+err.Error())
		writeError(w, http.StatusUnauthorized, enrollproto.CodeUnauthenticated, "client certificate is not an SVID")
		return
	}
	log = log.With("spiffe_id", id.String())
	csr, err := ParseCSR([]byte(req.CSRPEM))
	if err == nil {
		err = CheckCSR(csr, id)
	}
	if err != nil {
		var ce *CSRError
		if errors.As(err, &ce) && ce.Mismatch {
			log.Warn("renew refused", "reason", ce.Reason)
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
	log.Info("issuance granted", "serial", svid.Certificate.SerialNumber.Text(16), "not_after", svid.Certificate.NotAfter)
	writeJSON(w, http.StatusOK, enrollproto.SVIDResponse{
		SPIFFEID:  id.String(),
		SVIDPEM:   string(svid.PEM()),
		BundlePEM: string(h.ca.BundlePEM()),
		ExpiresAt: svid.Certificate.NotAfter.UTC(),
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
			h.log.Warn("request refused", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", "body too large")
			writeError(w, http.StatusRequestEntityTooLarge, enrollproto.CodeTooLarge, "request body too large")
			return false
		}
		// The decoder's message may quote the body, which may hold a token: keep it out of the log.
		h.log.Warn("request refused", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", "invalid JSON body")
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
