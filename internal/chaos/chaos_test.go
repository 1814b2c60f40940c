package chaos

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testenv"
	"github.com/berth-dev/berth/nodeagent/pause"
)

var (
	flagDuration = flag.Duration("chaos.duration", shortRun, "how long to inject faults (`just chaos 10m`); every fault type is injected at least once")
	flagSeed     = flag.Int64("chaos.seed", 0, "seed of the schedule of changes and faults (0: the time, or 1 for the short run of `just test`); a run prints its seed")
	flagOverlap  = flag.Duration("chaos.overlap-bound", 0, "fail when a pod name runs on two nodes at once for longer (0: only report the longest overlap)")
	flagFaults   = flag.String("chaos.faults", "", "comma-separated fault types to inject (default: all; the clock faults, which jump the machine's clock, only in a long run under /tmp/berth-it.lock)")
)

// shortRun is the default duration, the run `just test` makes.
const shortRun = 60 * time.Second

var bins struct {
	dir string
	Bins
	err error
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(watchdogEnv); spec != "" {
		os.Exit(clockWatchdog(spec)) // started by a clock fault (clock.go)
	}
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "berth-chaos-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bins.dir = dir
	bins.Berth = filepath.Join(dir, "berth")
	if os.Geteuid() == 0 || testenv.InCI() {
		bins.err = build(dir)
	}
	return m.Run()
}

// build makes berth, berth-pause and berth-logger beside each other, as
// the agent expects its helpers.
func build(dir string) error {
	if err := pause.Build(filepath.Join(dir, "berth-pause")); err != nil {
		return err
	}
	steps := []struct {
		env  []string
		args []string
	}{
		{args: []string{"build", "-o", filepath.Join(dir, "berth"), "github.com/berth-dev/berth/cmd/berth"}},
		{env: []string{"CGO_ENABLED=0"}, args: []string{"build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "berth-logger"), "github.com/berth-dev/berth/nodeagent/containerlog/logger"}},
	}
	for _, s := range steps {
		cmd := exec.Command("go", s.args...)
		cmd.Env = append(os.Environ(), s.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %v: %w\n%s", s.args, err, out)
		}
	}
	return nil
}

// TestChaos runs the cluster under the seeded schedule of changes and
// faults for -chaos.duration and fails on any invariant violation or leak.
func TestChaos(t *testing.T) {
	RequireParts(t)
	if bins.err != nil {
		t.Fatalf("build: %v", bins.err)
	}
	seed := *flagSeed
	switch {
	case seed != 0:
	case *flagDuration == shortRun:
		// The short run inside `just test` replays one schedule, so it
		// fails only when berth changed, never by the draw.
		seed = 1
	default:
		seed = time.Now().UnixNano() % 1_000_000
	}
	var types []string
	if *flagFaults != "" {
		types = strings.Split(*flagFaults, ",")
		for _, f := range types {
			if _, ok := faults[f]; !ok {
				t.Fatalf("-chaos.faults: unknown fault %q (know %v)", f, FaultTypes())
			}
			if clockFaults[f] {
				if err := holdsITLock(); err != nil {
					t.Fatalf("-chaos.faults %s: %v", f, err)
				}
			}
		}
	} else {
		var why string
		if types, why = defaultFaults(*flagDuration == shortRun); why != "" {
			t.Log(why)
		}
	}
	t.Logf("chaos seed %d (replay with -chaos.seed=%d)", seed, seed)
	c := NewCluster(t, bins.Bins)
	c.KeepLogs = *flagDuration != shortRun
	rep := NewRun(t, c, Options{Duration: *flagDuration, Seed: seed, Faults: types, OverlapBound: *flagOverlap}).Execute()
	t.Logf("\n%s", rep)
	fmt.Println(rep)
	if len(rep.Violations) > 0 || len(rep.Leaks) > 0 {
		t.Errorf("seed %d: %d invariant violations, %d leaks", seed, len(rep.Violations), len(rep.Leaks))
	}
}
