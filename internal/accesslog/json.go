package accesslog

import (
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends e as one JSON object and a newline. Keys always appear,
// in the order of the Field constants below, so lines diff and grep well;
// empty strings are null, as in Istio's JSON encoding.
func AppendJSON(dst []byte, e *Entry) []byte {
	dst = append(dst, '{')
	dst = appendKey(dst, FieldStartTime, true)
	if e.StartTime.IsZero() {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '"')
		dst = e.StartTime.UTC().AppendFormat(dst, timeLayout)
		dst = append(dst, '"')
	}
	dst = jsonStr(dst, FieldComponent, e.Component)
	dst = jsonStr(dst, FieldSourceIdentity, e.SourceIdentity)
	dst = jsonStr(dst, FieldDownstreamRemoteAddress, e.SourceAddress)
	dst = jsonStr(dst, FieldDownstreamLocalAddress, e.DownstreamLocalAddress)
	dst = jsonStr(dst, FieldAuthority, e.Authority)
	dst = jsonStr(dst, FieldRequestedServerName, e.SNI)
	dst = jsonStr(dst, FieldMethod, e.Method)
	dst = jsonStr(dst, FieldPath, stripQuery(e.Path))
	dst = jsonStr(dst, FieldProtocol, e.Protocol)
	dst = jsonInt(dst, FieldResponseCode, int64(e.Status))
	dst = appendKey(dst, FieldResponseFlags, false)
	if len(e.ResponseFlags) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '"')
		dst = appendFlags(dst, e.ResponseFlags, escapeJSON)
		dst = append(dst, '"')
	}
	dst = jsonStr(dst, FieldResponseCodeDetails, e.ResponseCodeDetails)
	dst = jsonStr(dst, FieldDecision, string(e.Decision))
	dst = jsonStr(dst, FieldPolicy, e.Policy)
	dst = jsonStr(dst, FieldReason, e.Reason)
	dst = jsonStr(dst, FieldUpstreamHost, e.UpstreamHost)
	dst = jsonStr(dst, FieldUpstreamCluster, e.UpstreamCluster)
	dst = jsonStr(dst, FieldUpstreamLocalAddress, e.UpstreamLocalAddress)
	dst = jsonStr(dst, FieldUpstreamTransportFailureReason, e.UpstreamTransportFailureReason)
	dst = jsonStr(dst, FieldConnectionTerminationDetails, e.ConnectionTerminationDetails)
	dst = jsonInt(dst, FieldBytesReceived, e.BytesReceived)
	dst = jsonInt(dst, FieldBytesSent, e.BytesSent)
	dst = jsonInt(dst, FieldDuration, e.Duration.Milliseconds())
	if e.UpstreamServiceTime == 0 {
		dst = append(appendKey(dst, FieldUpstreamServiceTime, false), "null"...)
	} else {
		dst = jsonInt(dst, FieldUpstreamServiceTime, e.UpstreamServiceTime.Milliseconds())
	}
	dst = jsonStr(dst, FieldRequestID, e.RequestID)
	dst = jsonStr(dst, FieldUserAgent, e.UserAgent)
	dst = jsonStr(dst, FieldXForwardedFor, e.XForwardedFor)
	dst = jsonStr(dst, FieldRouteName, e.RouteName)
	dst = jsonStr(dst, FieldDeniedBy, e.deniedBy())
	return append(dst, '}', '\n')
}

// timeLayout is Envoy's %START_TIME% default: RFC 3339, milliseconds, UTC.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func appendKey(dst []byte, key string, first bool) []byte {
	if !first {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...) // keys are constants that need no escaping
	return append(dst, '"', ':')
}

func jsonStr(dst []byte, key, v string) []byte {
	dst = appendKey(dst, key, false)
	if v == "" {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = escapeJSON(dst, v)
	return append(dst, '"')
}

func jsonInt(dst []byte, key string, v int64) []byte {
	return strconv.AppendInt(appendKey(dst, key, false), v, 10)
}

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes that go into a JSON string unchanged.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// escapeJSON writes s as the inside of a JSON string. Invalid UTF-8 becomes
// U+FFFD and U+2028/U+2029 are escaped, so every line is valid JSON that
// also survives JavaScript-based log viewers.
func escapeJSON(dst []byte, s string) []byte {
	// Fast path: almost every value (addresses, hosts, IDs) is plain ASCII
	// that needs no escaping and can be copied in one go.
	i := 0
	for i < len(s) && jsonSafe[s[i]] {
		i++
	}
	if i == len(s) {
		return append(dst, s...)
	}
	start := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

func appendFlags(dst []byte, flags []Flag, esc func([]byte, string) []byte) []byte {
	for i, f := range flags {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = esc(dst, string(f))
	}
	return dst
}
