package main

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/zapgate/zapgate/config"
	"github.com/zapgate/zapgate/internal/logging"
)

// defaultConfigPath is where zapgate looks for its configuration file when
// --config is not given.
const defaultConfigPath = "/etc/zapgate/zapgate.yaml"

// globals are the flags every verb shares.
type globals struct {
	configPath string
	logLevel   string
	logFormat  string
	// logComponents keeps only these components' log lines.
	logComponents []string
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "zapgate",
		Short: "Identity-aware authentication broker for ZeroMQ",
		Long: `zapgate ties every ZeroMQ node's CURVE key to a real identity in Active
Directory, Okta or a static directory file, applies role-based policy, and
relays only the commands a node's role allows, writing an audit trail.

Configuration is one YAML file (--config, default ` + defaultConfigPath + `);
unknown keys are errors with file:line. See docs/ for every setting.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "configuration file (default "+defaultConfigPath+" when it exists)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "", "log level: debug, info, warn, error (overrides the config)")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "", "log format: text or json (overrides the config)")
	root.PersistentFlags().StringSliceVar(&g.logComponents, "log-component", nil,
		"only log these components (repeatable or comma-separated): zap, authn, broker, transport, idp, policy, audit, certs, admin")
	root.AddCommand(
		newServeCmd(g),
		newDemoCmd(g),
		newKeygenCmd(g),
		newKeysCmd(g),
		newPolicyCmd(g),
		newAuditCmd(g),
		newEnrollCmd(g),
		newDoctorCmd(g),
		newVersionCmd(),
	)
	return root
}

// loadConfig reads --config, or the default path when it exists, or else
// returns the built-in defaults.
func (g *globals) loadConfig() (*config.Config, error) {
	path := g.configPath
	if path == "" {
		if _, err := os.Stat(defaultConfigPath); errors.Is(err, fs.ErrNotExist) {
			cfg := config.Defaults()
			return &cfg, nil
		}
		path = defaultConfigPath
	}
	return config.Load(path)
}

// logger builds the process logger from the config and flag overrides.
func (g *globals) logger(cfg *config.Config) (*slog.Logger, error) {
	level, format := cfg.Log.Level, cfg.Log.Format
	if g.logLevel != "" {
		level = g.logLevel
	}
	if g.logFormat != "" {
		format = g.logFormat
	}
	return logging.New(os.Stderr, format, level, g.logComponents)
}
