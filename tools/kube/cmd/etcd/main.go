// Command etcd is etcd's own server main (go.etcd.io/etcd/server/v3/etcdmain), built from this
// module because `go install go.etcd.io/etcd/server/v3@...` is refused (its go.mod has replace lines).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
