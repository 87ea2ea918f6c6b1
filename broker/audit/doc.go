// Package audit is zapgate's durable, tamper-evident decision log.
//
// Every authentication and authorization decision, and every
// administrative event, is one Record: a JSON object on one line of an
// append-only file, with ECS-style field names ("event.action",
// "user.name", …). Records are chained: each carries its sequence number
// ("audit.seq"), the hash of the record before it ("audit.prev_hash") and
// its own hash ("audit.hash"), the SHA-256 of its canonical encoding without
// "audit.hash". Changing, removing or reordering a record breaks the chain.
//
// # Writing
//
// Open recovers the directory (a torn last line left by a crash is moved
// aside to a ".torn" file and reported in an "audit.recovered" record) and
// starts one writer goroutine. Log.Append returns once the record is on
// disk: the writer batches every record queued while the previous batch
// was being written, writes the batch, calls fdatasync once and then
// releases all of its callers (group commit). When the log cannot be
// written, Append fails (errors wrap ErrUnavailable) so that no grant is
// made without its record; Options.FailOpen keeps callers going with an
// error that wraps ErrFailOpen instead (see MayProceed).
//
// Files rotate by size and age; the chain continues across files, whose
// names sort by their first sequence number. With a checkpoint key, the log
// writes signed "audit.checkpoint" records (ed25519) periodically, at
// rotation and at Close, and keeps the latest one in the directory's
// CHECKPOINT file, so that truncating the tail or deleting a file is
// detected by Verify.
//
// # Reading
//
// ParseRecord reads one line strictly: it accepts only the canonical
// encoding and checks the record's own hash. Scan walks files in order and
// checks the chain; Verify also checks the checkpoints and the CHECKPOINT
// file. Export writes records as JSON lines, ECS JSON, CEF or LEEF 2.0, and
// Follower reads new records as they are committed (for tail -f and for
// syslog forwarding, see the syslog sub-package).
//
// The record schema, the chain and checkpoint formats and the export
// formats are specified in docs/audit.md.
package audit
