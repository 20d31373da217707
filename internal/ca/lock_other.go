//go:build !unix

package ca

import "sync"

var processLock sync.Mutex

// lockFile serialises writers within this process only: where there is no flock, two processes
// revoking at the same instant may lose one entry (run one `egret ca revoke` at a time).
func lockFile(string) (func(), error) {
	processLock.Lock()
	return processLock.Unlock, nil
}
