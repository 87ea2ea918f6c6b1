// Package broker will hold zapgate's Majordomo relay: it checks every message
// against the sender's current identity and roles before relaying it. Its
// sub-packages hold the authenticator that answers ZAP requests (authn).
package broker
