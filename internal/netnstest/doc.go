// Package netnstest gives root tests throwaway network namespaces, veth links between them, and a way
// to run code or processes inside them, all deleted when the test ends.
package netnstest
