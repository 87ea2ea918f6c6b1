package ldap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Active Directory account control bits.
const (
	uacAccountDisable = 0x2  // userAccountControl ACCOUNTDISABLE
	uacLockout        = 0x10 // msDS-User-Account-Control-Computed UF_LOCKOUT
)

// accountExpiresNever are the two accountExpires values meaning "never".
const accountExpiresNever = int64(0x7FFFFFFFFFFFFFFF)

// fileTimeEpoch is the Windows FILETIME epoch (1601-01-01) in Unix seconds.
const fileTimeEpoch = int64(-11644473600)

// accountState is what an entry's attributes say about the account.
type accountState struct {
	disabled bool
	expired  bool
	locked   bool
}

func (s accountState) enabled() bool { return !s.disabled && !s.expired && !s.locked }

// adAccountState decodes userAccountControl, accountExpires and
// msDS-User-Account-Control-Computed (empty strings when absent).
func adAccountState(uac, expires, computed string, now time.Time) (accountState, error) {
	var st accountState
	if uac != "" {
		v, err := strconv.ParseInt(uac, 10, 64)
		if err != nil {
			return st, fmt.Errorf("ldap: userAccountControl %q: %w", uac, err)
		}
		st.disabled = v&uacAccountDisable != 0
	}
	if computed != "" {
		v, err := strconv.ParseInt(computed, 10, 64)
		if err != nil {
			return st, fmt.Errorf("ldap: msDS-User-Account-Control-Computed %q: %w", computed, err)
		}
		st.locked = v&uacLockout != 0
	}
	if expires != "" {
		t, never, err := parseFileTime(expires)
		if err != nil {
			return st, fmt.Errorf("ldap: accountExpires: %w", err)
		}
		st.expired = !never && !now.Before(t)
	}
	return st, nil
}

// parseFileTime decodes an AD Integer8 time (100 ns intervals since 1601).
// 0 and 0x7FFFFFFFFFFFFFFF mean "never".
func parseFileTime(s string) (t time.Time, never bool, err error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("%q is not an integer", s)
	}
	if v == 0 || v == accountExpiresNever {
		return time.Time{}, true, nil
	}
	if v < 0 {
		return time.Time{}, false, fmt.Errorf("%q is negative", s)
	}
	sec := v/10_000_000 + fileTimeEpoch
	nsec := (v % 10_000_000) * 100
	return time.Unix(sec, nsec).UTC(), false, nil
}

// parseSID renders a binary SID as S-R-I-S-S…, validating its length.
func parseSID(b []byte) (string, error) {
	if len(b) < 8 {
		return "", errors.New("ldap: sid shorter than 8 bytes")
	}
	n := int(b[1])
	if len(b) != 8+4*n {
		return "", fmt.Errorf("ldap: sid of %d bytes declares %d sub-authorities", len(b), n)
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "S-%d-%d", b[0], auth)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "-%d", binary.LittleEndian.Uint32(b[8+4*i:]))
	}
	return sb.String(), nil
}
