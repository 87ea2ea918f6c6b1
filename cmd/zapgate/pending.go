package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// pending returns a RunE for a verb whose capability lands with a later
// issue: it fails loudly rather than pretending to work.
func pending(what, issue string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		return fmt.Errorf("%s: not available in this build yet (%s); see docs/architecture.md", cmd.CommandPath(), issue)
	}
}

func newEnrollCmd(_ *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "enroll",
		Short: "Enroll this node's key through an identity-verified device flow",
		RunE:  pending("enroll", "enrollment arrives with issue #7"),
	}
}
