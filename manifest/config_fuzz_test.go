package manifest

import (
	"strings"
	"testing"
)

// FuzzParseConfig feeds arbitrary bytes to the .berth.yaml reader, which
// anyone who can push to the repository reaches: it must never panic, and
// every problem names .berth.yaml.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("skipKinds: [Ingress]\nhelm:\n  releaseName: a\n  valuesFiles: [v.yaml]\n  values: {a: {b: [1, 2]}}\n  charts:\n    x: {namespace: y}\n"))
	f.Add([]byte("skipKind: [Service]\n"))
	f.Add([]byte("a: &a [x, x]\nb: &b [*a, *a]\nhelm: {values: {c: [*b, *b]}}\n"))
	f.Add([]byte("helm: [1]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, errs := ParseConfig(data)
		for _, e := range errs {
			if e.File != ConfigFile {
				t.Fatalf("error names %q, not %s: %v", e.File, ConfigFile, e)
			}
		}
		if len(errs) == 0 {
			_ = c.HelmFor("chart")
			_ = strings.Join(c.SkipKinds, ",")
		}
	})
}
