// Package enrollproto is the wire protocol between a proxy and egret's CA: the join token format,
// the JSON bodies of the enroll and renew calls, and their error codes.
package enrollproto
