package config

import (
	"fmt"
	"net"
	"strings"

	"go.yaml.in/yaml/v3"
)

// validate checks settings that decode but make no sense, locating each
// problem by the line of its key in root.
func (c *Config) validate(name string, root *yaml.Node) Errors {
	var errs Errors
	bad := func(path, format string, args ...any) {
		errs = append(errs, &Error{File: name, Line: lineOf(root, path), Msg: fmt.Sprintf(format, args...)})
	}
	if c.ZAP.Workers < 0 {
		bad("zap.workers", "zap.workers must be 0 (automatic) or positive, not %d", c.ZAP.Workers)
	}
	if c.ZAP.Queue < 0 {
		bad("zap.queue", "zap.queue must be positive, not %d", c.ZAP.Queue)
	}
	if c.ZAP.Timeout <= 0 {
		bad("zap.timeout", "zap.timeout must be positive, not %s", c.ZAP.Timeout)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "log.level must be debug, info, warn or error, not %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "log.format must be text or json, not %q", c.Log.Format)
	}
	switch c.Keys.Source {
	case "registry":
		if c.Keys.Registry == "" {
			bad("keys.registry", "keys.registry must name a directory")
		}
	case "directory":
		switch {
		case c.Directory.Type == "ldap":
		case c.Directory.Type == "okta" && c.Directory.Okta.KeyAttribute != "":
		case c.Directory.Type == "okta":
			bad("keys.source", "keys.source directory with directory.type okta needs directory.okta.key_attribute")
		default:
			bad("keys.source", "keys.source directory needs directory.type ldap or okta, not %q", c.Directory.Type)
		}
	default:
		bad("keys.source", "keys.source must be registry or directory, not %q", c.Keys.Source)
	}
	if !strings.HasPrefix(c.Broker.Listen, "tcp://") && !strings.HasPrefix(c.Broker.Listen, "ipc://") {
		bad("broker.listen", "broker.listen must be a tcp:// or ipc:// endpoint, not %q", c.Broker.Listen)
	}
	if c.Policy.File == "" {
		bad("policy.file", "policy.file must name a file")
	}
	if c.Policy.RequireSignature && len(c.Policy.TrustedKeys) == 0 {
		bad("policy.require_signature", "policy.require_signature needs at least one policy.trusted_keys file")
	}
	if c.Broker.Heartbeat < 0 || c.Broker.NoWorkerWait < 0 {
		bad("broker", "broker durations must not be negative")
	}
	if c.Broker.Liveness < 0 || c.Broker.MaxQueue < 0 {
		bad("broker", "broker.liveness and broker.max_queue must not be negative")
	}
	c.Broker.validateLimits(bad)
	c.Audit.validate(bad, root)
	c.Directory.validate(bad, root)
	c.validateEnroll(bad)
	if c.Admin.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Admin.Listen); err != nil {
			bad("admin.listen", "admin.listen must be host:port (empty disables it), not %q", c.Admin.Listen)
		}
	}
	return errs
}

// lineOf returns the line of the value at a dotted path in a decoded YAML
// document, or 0 when the path is absent.
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, part := range strings.Split(path, ".") {
		if n.Kind != yaml.MappingNode {
			return 0
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			return 0
		}
		n = next
	}
	return n.Line
}
