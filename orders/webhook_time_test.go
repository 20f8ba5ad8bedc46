package orders

import (
	"errors"
	"strconv"
	"testing"
	"time"
)

func TestCheckSignedAt(t *testing.T) {
	now := time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
	header := func(at time.Time) string {
		return "t=" + strconv.FormatInt(at.Unix(), 10) + ",v1=abc,v0=def"
	}
	cases := []struct {
		name   string
		header string
		ok     bool
	}{
		{"Now", header(now), true},
		{"Past", header(now.Add(-4 * time.Minute)), true},
		{"SlightlyAhead", header(now.Add(4 * time.Minute)), true},
		{"AnHourAhead", header(now.Add(time.Hour)), false},
		{"JustPastTolerance", header(now.Add(webhookTolerance + time.Second)), false},
		{"NoTimestamp", "v1=abc", false},
		{"BadTimestamp", "t=soon,v1=abc", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkSignedAt(c.header, now, webhookTolerance)
			if c.ok && err != nil {
				t.Errorf("checkSignedAt(%q) = %v, want nil", c.header, err)
			}
			if !c.ok && !errors.Is(err, ErrInvalidSignature) {
				t.Errorf("checkSignedAt(%q) = %v, want ErrInvalidSignature", c.header, err)
			}
		})
	}
}
