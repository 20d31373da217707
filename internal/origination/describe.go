package origination

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// Describe turns a dial, handshake or verification error into a short
// phrase naming the check that failed, for the access log's
// upstream_transport_failure_reason and for operators. It returns "" for nil.
func Describe(err error) string {
	if err == nil {
		return ""
	}
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		san      *SANMismatchError
		alert    tls.AlertError
		record   tls.RecordHeaderError
		opErr    *net.OpError
		netErr   net.Error
	)
	switch {
	case errors.As(err, &san):
		return san.Error()
	case errors.As(err, &unknown):
		return "certificate signed by unknown authority"
	case errors.As(err, &invalid):
		switch invalid.Reason {
		case x509.Expired:
			return "certificate has expired or is not yet valid"
		case x509.NotAuthorizedToSign:
			return "certificate signed by a certificate that is not a CA"
		case x509.IncompatibleUsage:
			return "certificate not valid for server authentication"
		case x509.NameConstraintsWithoutSANs, x509.CANotAuthorizedForThisName:
			return "certificate violates its CA's name constraints"
		}
		return "certificate is invalid: " + strings.TrimPrefix(invalid.Error(), "x509: ")
	case errors.As(err, &hostname):
		c := hostname.Certificate
		names := certSANs(c)
		if len(names) == 0 {
			return "certificate has no subjectAltName, not valid for " + hostname.Host
		}
		return "certificate is valid for " + strings.Join(names, ", ") + ", not " + hostname.Host
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		// crypto/tls reports an alert from the peer this way; the alert
		// type itself is unexported.
		return "server rejected the handshake: " + strings.TrimPrefix(opErr.Err.Error(), "tls: ")
	case errors.As(err, &alert):
		return "handshake failed: " + strings.TrimPrefix(alert.Error(), "tls: ")
	case errors.As(err, &record):
		return "server did not answer with TLS"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by server during handshake"
	case errors.As(err, &opErr) && opErr.Op == "dial" && opErr.Timeout():
		return "connection timeout"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "handshake timeout"
	}
	return strings.TrimPrefix(strings.TrimPrefix(err.Error(), "tls: "), "x509: ")
}
