package zap

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// job is one request handed from the loop to a worker.
type job struct {
	seq      uint64
	req      *Request
	received time.Time
	deadline time.Time
}

// RoutingIDHold is the least time between libzmq's ZAP request and a 200
// reply that sets a routing id (Result.RoutingID). libzmq 4.3.4 tries to
// read the reply right after sending the request, before it parses the
// client's own metadata: a reply read there would have its Identity
// overwritten by the one the client asked for. Holding the reply makes
// that read find nothing, so the reply is applied after the client's
// metadata. It narrows the race, it cannot close it (the I/O thread may be
// descheduled for longer); the broker therefore still verifies every
// routing id. A held reply waits on a timer, not in a worker.
const RoutingIDHold = 5 * time.Millisecond

// worker calls the Authenticator for each job until the loop closes the
// queue, and sends each decision to the loop over its own DEALER. The
// socket is only locked while sending: a worker stuck in an Authenticator
// that ignores its context blocks neither Close nor context termination.
func (s *Server) worker(out *lockedSocket) {
	defer s.workers.Done()
	for j := range s.jobs {
		reply := s.decide(j)
		frames, err := reply.Frames()
		if err != nil {
			s.log.Error("zap internal: decision not encoded", slog.Any("error", err))
			continue
		}
		seq := binary.BigEndian.AppendUint64(make([]byte, 0, 8), j.seq)
		if hold := time.Until(j.received.Add(RoutingIDHold)); hold > 0 && setsRoutingID(reply) {
			// Held without holding the worker: the next request goes on.
			time.AfterFunc(hold, func() { s.sendDecision(out, seq, frames) })
			continue
		}
		s.sendDecision(out, seq, frames)
	}
}

// setsRoutingID reports whether a reply accepts and sets a routing id.
func setsRoutingID(r Reply) bool {
	if r.Status != StatusOK {
		return false
	}
	_, ok := r.Metadata.Get(PropertyIdentity)
	return ok
}

// sendDecision hands a decision to the loop.
func (s *Server) sendDecision(out *lockedSocket, seq []byte, frames [][]byte) {
	if err := out.send(s.token, seq, frames); err != nil {
		select {
		case <-s.loopDone: // shutting down: the loop answered already
		default:
			s.log.Warn("zap internal: decision not sent", slog.Any("error", err))
		}
	}
}

// decide turns one request into a reply.
func (s *Server) decide(j job) Reply {
	req := j.req
	if req.Domain == SelfTestDomain {
		return refusal(req, StatusDenied, textSelfTest)
	}
	if s.ctx.Err() != nil || !time.Now().Before(j.deadline) {
		// Already answered by the loop (shutdown or timeout).
		return refusal(req, StatusTempFail, textTimeout)
	}
	ctx, cancel := context.WithDeadline(s.ctx, j.deadline)
	start := time.Now()
	res, err := s.call(ctx, req)
	cancel()
	log := func() *slog.Logger {
		return s.log.With(slog.String("mechanism", req.Mechanism), slog.String("domain", req.Domain),
			slog.String("address", req.Address), slog.Duration("elapsed", time.Since(start)))
	}
	if err != nil {
		s.stats.errors.Add(1)
		if isTemporary(err) {
			log().Warn("zap authenticator failed temporarily, answering 300", slog.Any("error", err))
			return refusal(req, StatusTempFail, textTemporary)
		}
		log().Error("zap authenticator failed, answering 500", slog.Any("error", err))
		return refusal(req, StatusInternal, textInternal)
	}
	reply, err := s.replyFor(req, res)
	if err != nil {
		s.stats.invalidResults.Add(1)
		log().Error("zap authenticator returned an invalid result, answering 500", slog.Any("error", err))
		return refusal(req, StatusInternal, textInternal)
	}
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		log().Debug("zap decision", slog.Int("status", int(reply.Status)), slog.String("user_id", reply.UserID))
	}
	return reply
}

// call runs the Authenticator, turning a panic into an error.
func (s *Server) call(ctx context.Context, req *Request) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("zap: authenticator panic: %v", r)
		}
	}()
	return s.auth.Authenticate(ctx, req)
}

func isTemporary(err error) bool {
	return errors.Is(err, ErrTemporary) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, context.Canceled)
}
