package nodeagent_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/containerdrun"
	"github.com/berth-dev/berth/nodeagent"
)

// podMemory is the resident memory a runtime spends per pod beside the
// pod's own programs: its shim, the pause process and any log writer
// processes under the shim, from /proc (VmRSS, which counts a binary's
// shared pages in every process, as `ps` does).
type podMemory struct {
	pods                    int
	shims, pause, logger    float64 // MB, summed
	nShim, nPause, nLoggers int
}

func (m podMemory) report(b *testing.B, name string) {
	if m.pods == 0 {
		return
	}
	per := func(v float64) float64 { return v / float64(m.pods) }
	b.ReportMetric(per(m.shims+m.pause+m.logger), name+"-per-pod-MB")
	b.ReportMetric(per(m.shims), name+"-shim-per-pod-MB")
	b.ReportMetric(per(m.pause)*1024, name+"-pause-per-pod-kB")
	b.ReportMetric(per(m.logger)*1024, name+"-logwriters-per-pod-kB")
	b.ReportMetric(float64(m.nLoggers)/float64(m.pods), name+"-logwriters-per-pod")
}

// measurePodMemory sums the shims of the containerd at address and the
// pause and logger processes under them, for pods pods.
func measurePodMemory(b *testing.B, address string, pods int) podMemory {
	// Let loggers and shims settle after the start burst.
	time.Sleep(500 * time.Millisecond)
	shims, err := containerdrun.ShimPIDs(address)
	if err != nil {
		b.Fatal(err)
	}
	m := podMemory{pods: pods}
	for _, shim := range shims {
		m.shims += rssMB(shim)
		m.nShim++
		for _, child := range childPIDs(shim) {
			comm, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(child), "comm"))
			switch strings.TrimSpace(string(comm)) {
			case "pause":
				m.pause += rssMB(child)
				m.nPause++
			case "berth-logger":
				m.logger += rssMB(child)
				m.nLoggers++
			}
		}
	}
	if m.nShim != pods || m.nPause != pods {
		b.Fatalf("%d shims and %d pause processes for %d pods", m.nShim, m.nPause, pods)
	}
	return m
}

func childPIDs(pid int) []int {
	tasks, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "children"))
	var out []int
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func rssMB(pid int) float64 {
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

// stepLog collects the agent's step durations (nodeagent.SetStepTrace).
type stepLog struct {
	mu    sync.Mutex
	on    bool
	steps map[string][]time.Duration
}

func recordSteps(nd *node) *stepLog {
	l := &stepLog{steps: map[string][]time.Duration{}}
	nodeagent.SetStepTrace(nd.agent, func(_, step string, d time.Duration) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.on {
			l.steps[step] = append(l.steps[step], d)
		}
	})
	return l
}

// reset starts recording afresh; stop ends it, so the breakdown is that of
// pods made one at a time.
func (l *stepLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on, l.steps = true, map[string][]time.Duration{}
}

func (l *stepLog) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on = false
}

// report prints each step's median as step-<name>-p50-ms.
func (l *stepLog) report(b *testing.B) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, d := range l.steps {
		b.ReportMetric(percentile(d, 0.5), "step-"+name+"-p50-ms")
	}
}
