package gateway

import (
	"errors"

	"egret.dev/egret/internal/origination"
	"egret.dev/egret/internal/ownlisteners"
)

// describe is the public-safe reason a connection to an external host failed; a dial refused because
// it named one of egret's own listeners says so ("refused: 127.0.0.1:15014 is egret's own control plane
// admin listener"), even when other endpoints failed in other ways.
func describe(err error) string {
	var own *ownlisteners.RefusedError
	if errors.As(err, &own) {
		return own.Error()
	}
	return origination.Describe(err)
}
