package h2cli

import (
	"errors"
	"fmt"

	"golang.org/x/net/http2"
)

// notSentError is a request the server never acted on: the connection could not be made, or the
// server refused the stream (REFUSED_STREAM) or went away (GOAWAY) before it.
type notSentError struct{ err error }

func (e *notSentError) Error() string { return e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

// NotSent reports whether err says the server never processed the request, so sending it elsewhere
// cannot make anything happen twice.
func NotSent(err error) bool {
	var ns *notSentError
	return errors.As(err, &ns)
}

// errConnUnusable is a connection that cannot take the stream (full, going away, closed) before anything
// of it was written: RoundTrip picks another.
var errConnUnusable = errors.New("h2cli: connection cannot take a new stream")

// StreamError is the server resetting a stream, or the client resetting it because the server broke
// the protocol on it.
type StreamError struct {
	Code   http2.ErrCode
	Remote bool // the server sent the RST_STREAM
	Reason string
}

func (e *StreamError) Error() string {
	if e.Remote {
		return fmt.Sprintf("stream reset by the server: %v", e.Code)
	}
	return fmt.Sprintf("stream reset: %v: %s", e.Code, e.Reason)
}

// ConnError is a connection that failed: every stream on it gets it.
type ConnError struct {
	Reason string
	Err    error
}

func (e *ConnError) Error() string {
	if e.Err != nil {
		return "http2 connection: " + e.Reason + ": " + e.Err.Error()
	}
	return "http2 connection: " + e.Reason
}
func (e *ConnError) Unwrap() error { return e.Err }

// protocolError is the server breaking HTTP/2 in a way that ends the connection.
type protocolError struct {
	code   http2.ErrCode
	reason string
}

func (e *protocolError) Error() string {
	return fmt.Sprintf("the gateway broke HTTP/2 (%v): %s", e.code, e.reason)
}
