package config

import (
	"go.yaml.in/yaml/v3"
)

// Directory chooses and configures the identity source.
//
//	directory:
//	  type: static
//	  static:
//	    file: /etc/zapgate/directory.yaml
type Directory struct {
	// Type is the backend: "static" (a YAML file; the default). Active
	// Directory/LDAP and Okta arrive with their issues.
	Type string `yaml:"type"`
	// Static configures the static YAML directory.
	Static StaticDirectory `yaml:"static"`
}

// StaticDirectory configures the static YAML directory.
type StaticDirectory struct {
	// File is the directory file (default /etc/zapgate/directory.yaml).
	File string `yaml:"file"`
}

// Admin configures the admin HTTP listener (health and metrics).
type Admin struct {
	// Listen is host:port for /healthz, /readyz and /metrics (default
	// 127.0.0.1:9750; keep it on loopback or a management network).
	Listen string `yaml:"listen"`
}

func directoryDefaults() Directory {
	return Directory{Type: "static", Static: StaticDirectory{File: "/etc/zapgate/directory.yaml"}}
}

// validate checks the directory section.
func (d *Directory) validate(bad func(path, format string, args ...any), _ *yaml.Node) {
	switch d.Type {
	case "static":
		if d.Static.File == "" {
			bad("directory.static.file", "directory.static.file must name a file")
		}
	default:
		bad("directory.type", "directory.type must be static, not %q", d.Type)
	}
}
