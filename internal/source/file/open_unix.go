//go:build unix

package file

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// openRegular opens path for reading only if it is a regular file. O_NONBLOCK makes opening a named
// pipe return at once instead of waiting for a writer (it means nothing for a regular file), so a file
// swapped for a pipe between the walk and the open is refused here, never waited on.
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, errNotRegular{info.Mode()}
	}
	return f, nil
}

// fileID names the file itself (device and inode), so replacing a file by another of the same size
// and time is still a change.
func fileID(info fs.FileInfo) string {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
	}
	return ""
}
