package main

import (
	"os"

	"github.com/spf13/cobra"
	"github.com/zapgate/zapgate/config"
	"github.com/zapgate/zapgate/demo"
)

func newDemoCmd(g *globals) *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run a self-contained demonstration on 127.0.0.1 (no setup needed)",
		Long: `demo runs a small backup control plane on 127.0.0.1 with nothing configured:
in a temporary directory it creates keys, a key registry, and the embedded
static directory and policy, starts the real broker (the code of zapgate
serve), then a backup server, a proxy and a repository relay task commands
and job status; a proxy's forbidden command, a node whose group has no role
and a node with an unknown key are refused with their reasons; the proxy's
key is revoked while it serves; and the verified audit trail is printed.
It exits non-zero if any step does not behave as it must. Nothing leaves
the loopback interface.

Component logs are at level warn; add --log-level info to watch every
component (zap, authn, broker, transport, audit, ...) as the scenario runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := config.Defaults()
			cfg.Log.Level = "warn" // the narrative tells the story; --log-level info shows every component
			log, err := g.logger(&cfg)
			if err != nil {
				return err
			}
			if dir != "" {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return err
				}
			}
			return demo.Run(demo.Options{Out: cmd.OutOrStdout(), Logger: log, Dir: dir})
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "keep the demo's keys and registry in this directory (default: a temporary one, removed)")
	return c
}
