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

func newServeCmd(_ *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the broker: ZAP server, authorized Majordomo relay, audit",
		Long: `serve starts the ZAP server, proves it answers, and only then binds the
CURVE frontend (broker.listen) and relays Majordomo traffic that policy
allows. Arrives with the broker issue.`,
		Args: cobra.NoArgs,
		RunE: pending("serve", "the broker arrives with issue #5"),
	}
}

func newAuditCmd(_ *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "audit",
		Short: "Verify, export and tail the tamper-evident audit log",
	}
	c.AddCommand(
		&cobra.Command{Use: "verify FILES|DIR", Short: "Check the audit hash chain and checkpoints", Args: cobra.MinimumNArgs(1), RunE: pending("audit verify", "the audit log arrives with issue #4")},
		&cobra.Command{Use: "export", Short: "Export audit records for a SIEM (jsonl, ecs, cef, leef)", RunE: pending("audit export", "the audit log arrives with issue #4")},
		&cobra.Command{Use: "tail", Short: "Show audit records one line each", RunE: pending("audit tail", "the audit log arrives with issue #4")},
	)
	return c
}

func newEnrollCmd(_ *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "enroll",
		Short: "Enroll this node's key through an identity-verified device flow",
		RunE:  pending("enroll", "enrollment arrives with issue #7"),
	}
}
