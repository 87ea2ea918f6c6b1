package broker

import (
	"github.com/zapgate/zapgate/broker/mdp"
	"github.com/zapgate/zapgate/policy"
)

// mmiCommand is the command checked for an mmi.service lookup that names
// no command: the caller may see a service if the policy lets it request
// "mmi.service" on it.
const mmiCommand = "mmi.service"

// mmi answers an mmi.service lookup, body [service] or [service,
// command]: "200" if the service has a registered worker and the caller
// may request it (the command, or mmiCommand), else "404", so a lookup
// never reveals a service the caller may not use.
func (b *Broker) mmi(p *peerState, m *mdp.Message) {
	if len(m.Body) < 1 || len(m.Body) > 2 {
		b.malformedRequest(p, m.Service, "mmi.service wants [service] or [service, command]")
		return
	}
	target, cmd := string(m.Body[0]), mmiCommand
	if len(m.Body) == 2 {
		cmd = string(m.Body[1])
	}
	if mdp.CheckName(target) != nil || mdp.CheckName(cmd) != nil {
		b.malformedRequest(p, m.Service, "invalid service or command name")
		return
	}
	if mdp.Reserved(target) {
		code := "404"
		switch target {
		case mdp.ServicePublish, mdp.ServiceSubscribe, mdp.ServiceUnsubscribe, mdp.ServiceMMI:
			code = "200"
		}
		b.sendClient(p, m.Service, []byte(code))
		return
	}
	b.submit(p, &job{
		action: policy.Action{Kind: policy.Request, Service: target, Command: cmd},
		ev:     Event{Action: ActionRequest, Service: target, Command: cmd},
		done: func(j *job) {
			switch {
			case j.authErr != nil || j.recErr != nil:
				b.refuse(p, mdp.ServiceMMI, j.refusal("mmi.service"))
			case !j.decision.Allow:
				b.sendClient(p, mdp.ServiceMMI, []byte("404"))
			default:
				code := "404"
				if s := b.st.services[target]; s != nil && s.workers > 0 {
					code = "200"
				}
				b.sendClient(p, mdp.ServiceMMI, []byte(code))
			}
		},
	})
}
