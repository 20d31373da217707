package sniff

import "bytes"

// HTTPPrefixLen is how many bytes LooksLikeHTTP needs to decide: the longest
// method it knows ("CONNECT", "OPTIONS") plus the space after it.
const HTTPPrefixLen = 8

// methods are the request-line tokens we treat as HTTP/1.x, plus "PRI" for
// the HTTP/2 connection preface. Extension methods are deliberately not
// guessed at: an unknown token falls through to opaque TCP handling.
var methods = [][]byte{
	[]byte("GET "), []byte("HEAD "), []byte("POST "), []byte("PUT "),
	[]byte("DELETE "), []byte("CONNECT "), []byte("OPTIONS "), []byte("TRACE "),
	[]byte("PATCH "), []byte("PRI "),
}

// LooksLikeHTTP reports whether prefix begins with a known HTTP method token
// followed by a space. It needs up to HTTPPrefixLen bytes; a shorter prefix
// that is still ambiguous reports false.
func LooksLikeHTTP(prefix []byte) bool {
	for _, m := range methods {
		if bytes.HasPrefix(prefix, m) {
			return true
		}
	}
	return false
}
