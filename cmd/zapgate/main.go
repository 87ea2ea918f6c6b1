// Command zapgate is the identity-aware authentication broker for ZeroMQ.
// It parses flags and wires packages together; the logic lives in the
// packages. Run "zapgate --help" for the verbs.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	err := newRootCmd().Execute()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "zapgate:", err)
	var ec exitCode
	if errors.As(err, &ec) {
		os.Exit(int(ec))
	}
	os.Exit(1)
}

// exitCode is an error that carries a specific process exit status.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
