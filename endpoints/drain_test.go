package endpoints

import (
	"reflect"
	"testing"
)

func TestDrain(t *testing.T) {
	tests := []struct {
		name     string
		drain    Drain
		released []string
		waiting  map[string][]string
	}{
		{
			name:     "every node confirmed a newer version",
			drain:    Drain{Leaving: map[string]uint64{"web-a": 4}, Applied: map[string]uint64{"n1": 5, "n2": 4}},
			released: []string{"web-a"},
			waiting:  map[string][]string{"web-a": nil},
		},
		{
			name:     "one node is behind: the pod keeps running",
			drain:    Drain{Leaving: map[string]uint64{"web-a": 4, "web-b": 2}, Applied: map[string]uint64{"n1": 5, "n2": 3}},
			released: []string{"web-b"},
			waiting:  map[string][]string{"web-a": {"n2"}, "web-b": nil},
		},
		{
			name:     "no node to wait for (single node lost): released",
			drain:    Drain{Leaving: map[string]uint64{"web-a": 4}},
			released: []string{"web-a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.drain.Released(); !reflect.DeepEqual(got, tt.released) {
				t.Errorf("Released() = %v, want %v", got, tt.released)
			}
			for pod, want := range tt.waiting {
				if got := tt.drain.Waiting(pod); !reflect.DeepEqual(got, want) {
					t.Errorf("Waiting(%s) = %v, want %v", pod, got, want)
				}
			}
		})
	}
}
