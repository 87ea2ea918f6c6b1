// Package mdp is a strict codec for Majordomo Protocol 0.2 (7/MDP): the
// client protocol MDPC01 and the worker protocol MDPW01, as seen by a broker
// on a ROUTER socket. It parses the frames after the routing id and builds
// the frames the broker sends. It also holds the names, frames and rules of
// zapgate's extension (docs/protocol.md): the reserved services for
// job-status events, broker refusals ([ErrorFrame, code, reason, detail])
// and the syntax of names and topic patterns. It knows nothing of
// authorization.
package mdp
