// Package mdp is a strict codec for Majordomo Protocol 0.2 (7/MDP): the
// client protocol MDPC01 and the worker protocol MDPW01, as seen by a broker
// on a ROUTER socket. It parses the frames after the routing id and builds
// the frames the broker sends. It knows nothing of authorization.
package mdp
