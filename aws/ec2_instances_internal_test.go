package aws

import "testing"

func TestStoppedSince(t *testing.T) {
	for _, tc := range []struct {
		state  any
		reason string
		want   any
	}{
		{"stopped", "User initiated (2026-01-02 03:04:05 GMT)", "2026-01-02T03:04:05Z"},
		{"stopped", "Server.ScheduledStop: Stopped due to scheduled retirement (2025-12-31 23:59:59 UTC)", "2025-12-31T23:59:59Z"},
		{"stopped", "", nil},
		{"running", "User initiated (2026-01-02 03:04:05 GMT)", nil},
	} {
		if got := stoppedSince(tc.state, tc.reason); got != tc.want {
			t.Errorf("stoppedSince(%v, %q) = %v, want %v", tc.state, tc.reason, got, tc.want)
		}
	}
}
