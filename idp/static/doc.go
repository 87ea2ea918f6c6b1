// Package static is a directory read from a YAML file: principals, their
// groups and whether they are enabled. It is zapgate's embedded default
// (the demo, small sites, tests) and reloads the file when it changes,
// keeping the last good version when a new one is invalid.
//
// Example:
//
//	version: 1
//	groups:                                   # optional nesting
//	  "CN=Backup Proxies,OU=Groups,DC=corp,DC=example,DC=com":
//	    member_of: ["CN=Backup Nodes,OU=Groups,DC=corp,DC=example,DC=com"]
//	principals:
//	  "PROXY01$":
//	    display_name: Proxy 01
//	    groups: ["CN=Backup Proxies,OU=Groups,DC=corp,DC=example,DC=com"]
//	  "OLDREPO$":
//	    enabled: false
//	    groups: [okta:backup-repositories]
package static
