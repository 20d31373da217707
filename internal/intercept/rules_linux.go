package intercept

import (
	"errors"
	"fmt"
	"os"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// Rules is an installed egret table; Remove deletes it.
type Rules struct {
	params Params
}

func table() *nftables.Table {
	return &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}
}

// Install writes the egret table (family inet) with one nat output chain in a single netlink batch,
// so the workload never sees half a ruleset. A table of the same name left by a crashed run is
// replaced in that same batch, which makes Install idempotent.
func Install(p Params) (*Rules, error) {
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	conn, closeNS, err := connect(p.NetNS)
	if err != nil {
		return nil, err
	}
	defer closeNS()

	t := table()
	// Adding first makes the delete succeed whether or not a stale table exists.
	conn.AddTable(t)
	conn.DelTable(t)
	conn.AddTable(t)
	c := conn.AddChain(&nftables.Chain{
		Name:     chainName,
		Table:    t,
		Type:     nftables.ChainTypeNAT,
		Hooknum:  nftables.ChainHookOutput,
		Priority: nftables.ChainPriorityNATDest,
	})
	for _, exprs := range ruleset(p) {
		conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: exprs})
	}
	if err := conn.Flush(); err != nil {
		return nil, explain("install nftables table inet "+TableName, err)
	}
	return &Rules{params: p}, nil
}

// Remove deletes the egret table and everything in it; other tables are untouched. Removing a table
// that is already gone is not an error, so a deferred Remove after a manual cleanup stays quiet.
func (r *Rules) Remove() error {
	conn, closeNS, err := connect(r.params.NetNS)
	if err != nil {
		return err
	}
	defer closeNS()
	conn.DelTable(table())
	if err := conn.Flush(); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return explain("remove nftables table inet "+TableName, err)
	}
	return nil
}

// Installed reports whether the egret table exists in the namespace at netns ("" = our own).
func Installed(netns string) (bool, error) {
	conn, closeNS, err := connect(netns)
	if err != nil {
		return false, err
	}
	defer closeNS()
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, explain("list nftables tables", err)
	}
	for _, t := range tables {
		if t.Name == TableName {
			return true, nil
		}
	}
	return false, nil
}

// connect opens an nftables connection into the namespace at path, or the current one.
func connect(path string) (*nftables.Conn, func(), error) {
	if path == "" {
		c, err := nftables.New()
		return c, func() {}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("intercept: open network namespace: %w", err)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return c, func() { f.Close() }, nil
}

// explain turns the kernel's bare errnos into the reason an operator can act on.
func explain(what string, err error) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("%w: %s: %v: needs root or CAP_NET_ADMIN in the workload's network namespace", ErrUnsupported, what, err)
	case errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.EAFNOSUPPORT):
		return fmt.Errorf("%w: %s: %v: the kernel has no nf_tables (load the nf_tables and nft_redir modules)", ErrUnsupported, what, err)
	}
	return fmt.Errorf("intercept: %s: %w", what, err)
}
