//go:build !unix

package cli

func openFileLimit() int { return 1 << 20 }
