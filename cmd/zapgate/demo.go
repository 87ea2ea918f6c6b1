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
		Long: `demo creates a broker key, a key registry with one enrolled node (PROXY01$)
and an unknown node in a temporary directory, starts the ZAP server, and shows
over real CURVE connections on 127.0.0.1 that the enrolled node is accepted
with its principal as User-Id, the unknown key is refused, and the enrolled
key is refused as soon as it is revoked. It exits non-zero if any step does
not behave as it must. Nothing leaves the loopback interface.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := config.Defaults()
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
