package mdp

// ClientReply builds the frames (after the routing id) a broker sends to a
// client: delimiter, MDPC01, service, body.
func ClientReply(service string, body ...[]byte) [][]byte {
	out := make([][]byte, 0, 3+len(body))
	out = append(out, []byte{}, []byte(ClientHeader), []byte(service))
	return append(out, body...)
}

// WorkerRequest builds a REQUEST to a worker carrying a client's request.
func WorkerRequest(client []byte, body ...[]byte) [][]byte {
	out := make([][]byte, 0, 5+len(body))
	out = append(out, []byte{}, []byte(WorkerHeader), []byte{byte(Request)}, client, []byte{})
	return append(out, body...)
}

// WorkerCommand builds a HEARTBEAT or DISCONNECT to a worker.
func WorkerCommand(c Command) [][]byte {
	return [][]byte{{}, []byte(WorkerHeader), {byte(c)}}
}

// WorkerReady builds a worker's READY (for clients of this codec that act
// as workers).
func WorkerReady(service string) [][]byte {
	return [][]byte{{}, []byte(WorkerHeader), {byte(Ready)}, []byte(service)}
}

// WorkerReply builds a worker's REPLY to a client.
func WorkerReply(client []byte, body ...[]byte) [][]byte {
	out := make([][]byte, 0, 5+len(body))
	out = append(out, []byte{}, []byte(WorkerHeader), []byte{byte(Reply)}, client, []byte{})
	return append(out, body...)
}

// ClientRequest builds a client's request (for clients of this codec).
func ClientRequest(service string, body ...[]byte) [][]byte {
	return ClientReply(service, body...)
}
