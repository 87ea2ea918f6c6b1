// Package syslog forwards the audit log to a syslog receiver as it is
// written: RFC 5424 messages with structured data, framed by octet
// counting (RFC 6587) over TCP, or over TLS (RFC 5425).
//
// The Forwarder follows the log directory (audit.Follower), so it sends
// only records that are durable and checks the chain as it reads. A cursor
// file remembers the last record the receiver has: the Forwarder advances
// it only once the receiver's TCP stack has acknowledged every byte up to
// that record and the connection has stayed up for a settle period after
// that. After a restart, an outage of the receiver or a broken connection,
// forwarding resumes after the cursor. Delivery is at least once: records
// sent but not yet settled are sent again, and "event.id" lets the
// receiver drop the duplicates.
package syslog
