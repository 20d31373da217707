//go:build !unix

package file

import (
	"io/fs"
	"os"
)

// openRegular opens path for reading only if it is a regular file.
func openRegular(path string) (*os.File, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, errNotRegular{info.Mode()}
	}
	return os.Open(path)
}

func fileID(fs.FileInfo) string { return "" }
