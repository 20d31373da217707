//go:build !unix

package supervisor

func openFileLimit() int { return 1 << 20 }
