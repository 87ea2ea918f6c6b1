//go:build !linux

package broker

import "errors"

// connOps tracks nothing where Linux's TCP_INFO is missing: no
// connection is identified, so none is cut (docs/security.md).
type connOps struct{}

func newConnOps() fdOps { return connOps{} }

var errNoConnOps = errors.New("connection accounting needs Linux")

func (connOps) identify(int) (connID, error) { return connID{}, errNoConnOps }
func (connOps) read(int) (uint64, error)     { return 0, errNoConnOps }
func (connOps) cut(int, connID) error        { return errNoConnOps }
