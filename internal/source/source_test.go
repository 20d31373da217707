package source_test

import (
	"egret.dev/egret/internal/source"
	"egret.dev/egret/internal/source/file"
	"egret.dev/egret/internal/source/kube"
)

// Both sources load the same snapshot type through one interface.
var (
	_ source.Source  = (*file.Dir)(nil)
	_ source.Watched = (*kube.Source)(nil)
)
