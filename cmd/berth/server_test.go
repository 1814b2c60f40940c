package main

import (
	"testing"
	"time"
)

func TestHeartbeatTiming(t *testing.T) {
	tests := []struct {
		name         string
		nodeTimeout  time.Duration
		wantInterval time.Duration
		wantFlush    time.Duration
	}{
		{name: "default timeout keeps the API defaults", nodeTimeout: 40 * time.Second, wantInterval: 10 * time.Second, wantFlush: 5 * time.Second},
		{name: "long timeout is capped at the defaults", nodeTimeout: 5 * time.Minute, wantInterval: 10 * time.Second, wantFlush: 5 * time.Second},
		{name: "short timeout beats faster", nodeTimeout: 10 * time.Second, wantInterval: 2500 * time.Millisecond, wantFlush: 1250 * time.Millisecond},
		{name: "shortest allowed", nodeTimeout: minNodeTimeout, wantInterval: 500 * time.Millisecond, wantFlush: 250 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			interval, flush := heartbeatTiming(tc.nodeTimeout)
			if interval != tc.wantInterval || flush != tc.wantFlush {
				t.Fatalf("heartbeatTiming(%v) = %v, %v; want %v, %v", tc.nodeTimeout, interval, flush, tc.wantInterval, tc.wantFlush)
			}
			// A beat sent just before a deadline check must be in the
			// store well before the node times out.
			if interval+flush >= tc.nodeTimeout/2 {
				t.Errorf("beat %v + flush %v leaves less than half of the %v timeout", interval, flush, tc.nodeTimeout)
			}
		})
	}
}
