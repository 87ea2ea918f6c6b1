// Package ldap is zapgate's Active Directory and generic LDAP directory: it
// implements idp.Directory with github.com/go-ldap/ldap/v3.
//
// A Lookup finds exactly one entry for the principal (by sAMAccountName, UPN
// or uid through a configurable filter template, or by DN with a base-scope
// search), decides whether the account is enabled, and resolves its groups.
// Every filter value is escaped with ldap.EscapeFilter, binds happen only over
// LDAPS or StartTLS unless InsecureNoTLS is set (security invariant 7), and
// every network operation is bounded by the caller's context and by
// Config.Timeout.
//
// Flavours and group modes:
//
//   - "ad": accounts are disabled by userAccountControl ACCOUNTDISABLE (0x2),
//     expired by accountExpires, locked by msDS-User-Account-Control-Computed
//     LOCKOUT (0x10). Groups come from the in-chain matching rule
//     (1.2.840.113556.1.4.1941, GroupMode "inchain", the default) or from
//     tokenGroups SIDs resolved to group DNs (GroupMode "tokengroups").
//   - "generic" (OpenLDAP and friends): accounts locked by the ppolicy
//     overlay (pwdAccountLockedTime) are not enabled. Groups come from the
//     entry's memberOf attribute (GroupMode "memberof", the default; needs
//     the memberof overlay, direct groups only) or from a client-side walk of
//     member/uniqueMember links with cycle detection (GroupMode "walk",
//     nested groups included).
//
// Groups are returned as DNs exactly as the directory writes them; the policy
// compares DNs case-insensitively.
//
// Lookup returns an error wrapping idp.ErrNotFound when the directory
// answered that the principal does not exist, and an error wrapping
// idp.ErrUnavailable for any technical failure (unreachable, timed out, bind
// refused, ambiguous principal, misconfiguration).
//
// A YAML example (the config package maps the directory section onto Config):
//
//	directory:
//	  type: ldap
//	  ldap:
//	    urls: ["ldaps://dc1.corp.example.com:636", "ldaps://dc2.corp.example.com:636"]
//	    ca_file: /etc/zapgate/corp-ca.pem
//	    bind_dn: "CN=svc-zapgate,OU=Service Accounts,DC=corp,DC=example,DC=com"
//	    bind_password_file: /etc/zapgate/bind-password   # or bind_password_env
//	    timeout: 5s
//	    base_dn: "DC=corp,DC=example,DC=com"
//	    flavour: ad
//	    group_mode: inchain
//	    group_base: "OU=Groups,DC=corp,DC=example,DC=com"
//	    # principal_filter: "(|(sAMAccountName=%s)(userPrincipalName=%s))"
//	    # display_attr: displayName
//
// For OpenLDAP with StartTLS:
//
//	directory:
//	  type: ldap
//	  ldap:
//	    urls: ["ldap://ldap.example.com:389"]
//	    start_tls: true
//	    ca_file: /etc/zapgate/ca.pem
//	    bind_dn: "cn=zapgate,ou=services,dc=example,dc=com"
//	    bind_password_env: ZAPGATE_LDAP_PASSWORD
//	    base_dn: "dc=example,dc=com"
//	    flavour: generic
//	    group_mode: walk
//	    group_base: "ou=groups,dc=example,dc=com"
package ldap
