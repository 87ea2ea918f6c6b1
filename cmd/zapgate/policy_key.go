package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/idp"
	"github.com/zapgate/zapgate/server"
)

// identityOfKey resolves a registry selector to the principal and the
// groups the configured directory reports, as the broker would, and says
// so on the command's output.
func identityOfKey(cmd *cobra.Command, g *globals, selector string) (string, []string, error) {
	cfg, err := g.loadConfig()
	if err != nil {
		return "", nil, err
	}
	b, err := certs.Find(cfg.Keys.Registry, selector)
	if err != nil {
		return "", nil, err
	}
	open, ok := server.Directories[cfg.Directory.Type]
	if !ok {
		return "", nil, fmt.Errorf("directory type %q is not built in", cfg.Directory.Type)
	}
	dir, err := open(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", nil, err
	}
	if c, ok := dir.(idp.Closer); ok {
		defer c.Close()
	}
	id, err := dir.Lookup(cmd.Context(), b.Principal)
	if err != nil {
		return "", nil, fmt.Errorf("directory lookup of %q: %w", b.Principal, err)
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "key %s is bound to %q (%s)\n", b.Key.Fingerprint(), b.Principal, b.File)
	fmt.Fprintf(out, "directory %s: %d groups", id.Source, len(id.Groups))
	if !id.Enabled {
		fmt.Fprint(out, "; the account is DISABLED: the broker refuses it before consulting the policy")
	}
	fmt.Fprint(out, "\n\n")
	return b.Principal, id.Groups, nil
}
