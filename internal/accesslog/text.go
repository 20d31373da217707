package accesslog

import (
	"strconv"
	"strings"
)

// textSafe marks the bytes a quoted TEXT field carries unchanged.
var textSafe = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 0x20 && c != 0x7f && c != '"' && c != '\\'
	}
	return t
}()

// AppendText appends e in Istio's default TEXT access log format (Envoy's
// format string as set by istiod), followed by a newline:
//
//	[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%"
//	%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
//	"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
//	%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
//	"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW%
//	%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
//	%REQUESTED_SERVER_NAME% %ROUTE_NAME%
//
// The format has no column for source identity, decision, policy or reason;
// those are in the JSON encoding only, and a denial shows up here through
// ResponseFlags (RBAC) and ResponseCodeDetails (RBACDetails). Unlike Envoy,
// values are made safe for a one-line format: in quoted fields '"', '\' and
// control bytes are escaped, in bare fields whitespace becomes '_'.
func AppendText(dst []byte, e *Entry) []byte {
	dst = append(dst, '[')
	if e.StartTime.IsZero() {
		dst = append(dst, '-')
	} else {
		dst = e.StartTime.UTC().AppendFormat(dst, timeLayout)
	}
	dst = append(dst, "] \""...)
	dst = escapeText(dst, e.Method)
	dst = append(dst, ' ')
	dst = escapeText(dst, stripQuery(e.Path))
	dst = append(dst, ' ')
	dst = escapeText(dst, e.Protocol)
	dst = append(dst, "\" "...)
	dst = strconv.AppendInt(dst, int64(e.Status), 10)
	dst = append(dst, ' ')
	if len(e.ResponseFlags) == 0 {
		dst = append(dst, '-')
	} else {
		dst = appendFlags(dst, e.ResponseFlags, bare)
	}
	dst = textBare(dst, e.ResponseCodeDetails)
	dst = textBare(dst, e.ConnectionTerminationDetails)
	dst = textQuoted(dst, e.UpstreamTransportFailureReason)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, e.BytesReceived, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, e.BytesSent, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, e.Duration.Milliseconds(), 10)
	dst = append(dst, ' ')
	if e.UpstreamServiceTime == 0 {
		dst = append(dst, '-')
	} else {
		dst = strconv.AppendInt(dst, e.UpstreamServiceTime.Milliseconds(), 10)
	}
	dst = textQuoted(dst, e.XForwardedFor)
	dst = textQuoted(dst, e.UserAgent)
	dst = textQuoted(dst, e.RequestID)
	dst = textQuoted(dst, e.Authority)
	dst = textQuoted(dst, e.UpstreamHost)
	dst = textBare(dst, e.UpstreamCluster)
	dst = textBare(dst, e.UpstreamLocalAddress)
	dst = textBare(dst, e.DownstreamLocalAddress)
	dst = textBare(dst, e.SourceAddress)
	dst = textBare(dst, e.SNI)
	dst = textBare(dst, e.RouteName)
	return append(dst, '\n')
}

func textBare(dst []byte, v string) []byte {
	return bare(append(dst, ' '), v)
}

// bare writes an unquoted field: "-" when empty, whitespace and control
// bytes replaced so the field stays one token.
func bare(dst []byte, v string) []byte {
	if v == "" {
		return append(dst, '-')
	}
	if !strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return append(dst, v...)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c == 0x7f {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

func textQuoted(dst []byte, v string) []byte {
	dst = append(dst, ' ', '"')
	dst = escapeText(dst, v)
	return append(dst, '"')
}

// escapeText writes a value that sits inside quotes: "-" when empty, with
// quotes, backslashes and control bytes escaped so a hostile User-Agent or
// path cannot forge a second line or shift the columns.
func escapeText(dst []byte, v string) []byte {
	if v == "" {
		return append(dst, '-')
	}
	i := 0
	for i < len(v) && textSafe[v[i]] {
		i++
	}
	dst = append(dst, v[:i]...)
	for ; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20 || c == 0x7f:
			dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
