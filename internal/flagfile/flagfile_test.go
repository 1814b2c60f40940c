package flagfile

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

type settings struct {
	listen   string
	interval time.Duration
	agent    bool
	labels   []string
	alloc    map[string]string
	n        int
}

func newFlags(s *settings) *pflag.FlagSet {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.StringVar(&s.listen, "listen", "127.0.0.1:7070", "address of the API")
	fs.DurationVar(&s.interval, "interval", time.Minute, "how often to poll")
	fs.BoolVar(&s.agent, "agent", true, "also run an agent")
	fs.StringSliceVar(&s.labels, "labels", []string{"a=b"}, "node labels")
	fs.StringToStringVar(&s.alloc, "allocatable", nil, "what the node offers")
	fs.IntVar(&s.n, "count", 3, "a number")
	fs.String("config", "", "the config file")
	return fs
}

func TestApply(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		file    string
		want    settings
		wantErr []string
	}{
		{name: "empty file keeps defaults", file: "",
			want: settings{listen: "127.0.0.1:7070", interval: time.Minute, agent: true, labels: []string{"a=b"}, alloc: map[string]string{}, n: 3}},
		{name: "every kind of value",
			file: "listen: 0.0.0.0:7070\ninterval: 5s\nagent: false\nlabels: [zone=a, disk=ssd]\nallocatable:\n  cpu: \"2\"\n  memory: 4Gi\ncount: 7\n",
			want: settings{listen: "0.0.0.0:7070", interval: 5 * time.Second, agent: false, labels: []string{"zone=a", "disk=ssd"}, alloc: map[string]string{"cpu": "2", "memory": "4Gi"}, n: 7}},
		{name: "one value for a list flag", file: "labels: zone=b\n",
			want: settings{listen: "127.0.0.1:7070", interval: time.Minute, agent: true, labels: []string{"zone=b"}, alloc: map[string]string{}, n: 3}},
		{name: "the command line wins", args: []string{"--listen", "1.2.3.4:1", "--labels", "x=y"}, file: "listen: 0.0.0.0:7070\nlabels: [zone=a]\ncount: 9\n",
			want: settings{listen: "1.2.3.4:1", interval: time.Minute, agent: true, labels: []string{"x=y"}, alloc: map[string]string{}, n: 9}},
		{name: "unknown keys name key and line",
			file:    "listen: x\nlisen: y\nconfig: z\nnothing-like-it: 1\n",
			wantErr: []string{`server.yaml:2: unknown key "lisen" (did you mean "listen"?)`, `server.yaml:3: unknown key "config"`, `server.yaml:4: unknown key "nothing-like-it" (the keys are the command's flag names without --)`}},
		{name: "bad values name key and line",
			file:    "interval: soon\nagent: maybe\ncount: [1]\nallocatable: cpu\nlisten: x\nlisten: y\nlabels:\n",
			wantErr: []string{`server.yaml:1: interval: invalid argument "soon"`, `server.yaml:2: agent:`, `server.yaml:3: count: takes one int value, not a list`, `server.yaml:4: allocatable: want a mapping`, `server.yaml:6: key "listen" given twice (first on line 5)`, `server.yaml:7: labels: no value`}},
		{name: "not a mapping", file: "- listen\n", wantErr: []string{"server.yaml:1: want a mapping of settings"}},
		{name: "not YAML", file: "listen: [\n", wantErr: []string{"server.yaml: yaml:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s settings
			fs := newFlags(&s)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := Apply(fs, "/etc/berth/server.yaml", []byte(tt.file), "config")
			if len(tt.wantErr) > 0 {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("err = %v, want ErrConfig", err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.alloc == nil {
				s.alloc = map[string]string{}
			}
			if s.listen != tt.want.listen || s.interval != tt.want.interval || s.agent != tt.want.agent || s.n != tt.want.n ||
				strings.Join(s.labels, ",") != strings.Join(tt.want.labels, ",") || len(s.alloc) != len(tt.want.alloc) {
				t.Errorf("got %+v, want %+v", s, tt.want)
			}
			for k, v := range tt.want.alloc {
				if s.alloc[k] != v {
					t.Errorf("allocatable %s = %q, want %q", k, s.alloc[k], v)
				}
			}
		})
	}
}

// TestEffectiveRoundTrip prints the settings of one flag set and reads
// them into a fresh one: every setting must come back.
func TestEffectiveRoundTrip(t *testing.T) {
	var a settings
	fa := newFlags(&a)
	if err := fa.Parse([]string{"--listen", "0.0.0.0:1", "--agent=false", "--labels", "zone=a,disk=ssd", "--allocatable", "cpu=2,memory=4Gi", "--interval", "90s"}); err != nil {
		t.Fatal(err)
	}
	out, err := Effective(fa, "config")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "config:") {
		t.Errorf("skipped flag printed:\n%s", out)
	}
	if !strings.Contains(string(out), "# address of the API\nlisten: 0.0.0.0:1\n") {
		t.Errorf("no help comment above the key:\n%s", out)
	}
	var b settings
	fb := newFlags(&b)
	if err := Apply(fb, "printed", out, "config"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if b.listen != a.listen || b.agent != a.agent || b.interval != a.interval || strings.Join(b.labels, ",") != strings.Join(a.labels, ",") ||
		b.alloc["cpu"] != "2" || b.alloc["memory"] != "4Gi" || b.n != a.n {
		t.Errorf("round trip: got %+v, want %+v\n%s", b, a, out)
	}
}

func TestChanged(t *testing.T) {
	var s settings
	fs := newFlags(&s)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	out, err := Changed(fs, "config")
	if err != nil || string(out) != "{}\n" {
		t.Errorf("nothing changed: %q, %v", out, err)
	}
	if err := fs.Parse([]string{"--count", "4", "--labels", "a=1"}); err != nil {
		t.Fatal(err)
	}
	out, err = Changed(fs, "config")
	if err != nil {
		t.Fatal(err)
	}
	if want := "# a number\ncount: 4\n# node labels\nlabels: [a=1]\n"; string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}
