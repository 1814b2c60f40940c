package endpoints

import (
	"reflect"
	"testing"
	"time"
)

func TestDrain(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		drain    Drain
		now      time.Time
		released []string
		waiting  map[string][]string
		next     time.Time
	}{
		{
			name:     "every node confirmed a newer version",
			drain:    Drain{Leaving: map[string]uint64{"web-a": 4}, Applied: map[string]uint64{"n1": 5, "n2": 4}},
			now:      t0,
			released: []string{"web-a"},
			waiting:  map[string][]string{"web-a": nil},
		},
		{
			name:     "one node is behind: the pod keeps running",
			drain:    Drain{Leaving: map[string]uint64{"web-a": 4, "web-b": 2}, Applied: map[string]uint64{"n1": 5, "n2": 3}},
			now:      t0,
			released: []string{"web-b"},
			waiting:  map[string][]string{"web-a": {"n2"}, "web-b": nil},
		},
		{
			name:     "a node that confirmed nothing holds every pod",
			drain:    Drain{Leaving: map[string]uint64{"web-a": 1}, Applied: map[string]uint64{"n1": 5, "n2": 0}},
			now:      t0,
			released: nil,
			waiting:  map[string][]string{"web-a": {"n2"}},
		},
		{
			name:     "no node to wait for (single node lost): released",
			drain:    Drain{Leaving: map[string]uint64{"web-a": 4}},
			now:      t0,
			released: []string{"web-a"},
		},
		{
			name: "before its deadline a pod waits, and Next names the deadline",
			drain: Drain{Leaving: map[string]uint64{"web-a": 4, "web-b": 4}, Applied: map[string]uint64{"n1": 3},
				Deadline: map[string]time.Time{"web-a": t0.Add(40 * time.Second), "web-b": t0.Add(30 * time.Second)}},
			now:      t0.Add(10 * time.Second),
			released: nil,
			waiting:  map[string][]string{"web-a": {"n1"}},
			next:     t0.Add(30 * time.Second),
		},
		{
			name: "at its deadline a pod is released though a node is behind",
			drain: Drain{Leaving: map[string]uint64{"web-a": 4, "web-b": 4}, Applied: map[string]uint64{"n1": 3},
				Deadline: map[string]time.Time{"web-a": t0.Add(40 * time.Second), "web-b": t0.Add(30 * time.Second)}},
			now:      t0.Add(30 * time.Second),
			released: []string{"web-b"},
			next:     t0.Add(40 * time.Second),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.drain.Released(tt.now); !reflect.DeepEqual(got, tt.released) {
				t.Errorf("Released() = %v, want %v", got, tt.released)
			}
			for pod, want := range tt.waiting {
				if got := tt.drain.Waiting(pod); !reflect.DeepEqual(got, want) {
					t.Errorf("Waiting(%s) = %v, want %v", pod, got, want)
				}
			}
			if got := tt.drain.Next(tt.now); !got.Equal(tt.next) {
				t.Errorf("Next() = %v, want %v", got, tt.next)
			}
		})
	}
}
