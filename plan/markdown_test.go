package plan_test

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-dev/berth/plan"
)

// TestMarkdownTruncates: a change too big for one comment stays under the
// limit, is cut the same way every time, and says how much it left out.
func TestMarkdownTruncates(t *testing.T) {
	for _, tc := range []struct {
		name    string
		objects int
		limit   int
		wantCut bool
	}{
		{name: "fits", objects: 3, limit: 0, wantCut: false},
		{name: "1000 objects", objects: 1000, limit: 0, wantCut: true},
		{name: "small limit", objects: 50, limit: 4000, wantCut: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &plan.Plan{Verdict: plan.VerdictChanges, Summary: fmt.Sprintf("%d object(s) change", tc.objects)}
			for i := range tc.objects {
				p.Changes = append(p.Changes, plan.Change{Action: plan.Changed, Kind: "Deployment", Namespace: "shop", Name: fmt.Sprintf("web-%04d", i),
					File: "apps/web.yaml", Line: i + 1, Consequences: []string{"template changed → rolling update of 3 pod(s) (maxSurge 1, maxUnavailable 0)"},
					Diff: strings.Repeat(fmt.Sprintf("-      image: shop/web:v1 # %d\n+      image: shop/web:v2 # %d\n", i, i), 5)})
			}
			md := plan.Markdown(p, tc.limit)
			limit := tc.limit
			if limit == 0 {
				limit = plan.MaxMarkdown
			}
			if n := len([]rune(md)); n > limit {
				t.Errorf("%d characters, limit %d", n, limit)
			}
			if again := plan.Markdown(p, tc.limit); again != md {
				t.Error("two renderings of one plan differ")
			}
			if !strings.HasPrefix(md, plan.CommentMarker+"\n### ✅ ") {
				t.Errorf("does not start with the marker and the verdict: %.80q", md)
			}
			m := regexp.MustCompile(`fit, (\d+) table row\(s\), (\d+) object diff\(s\)`).FindStringSubmatch(md)
			if (m != nil) != tc.wantCut {
				t.Fatalf("cut line present=%t, want %t", m != nil, tc.wantCut)
			}
			details := strings.Count(md, "<details>")
			rows := strings.Count(md, "\n| deployment shop/")
			if m != nil {
				cutRows, _ := strconv.Atoi(m[1])
				cutDetails, _ := strconv.Atoi(m[2])
				if rows+cutRows != tc.objects || details+cutDetails != tc.objects {
					t.Errorf("rows %d + cut %d, details %d + cut %d, want %d each", rows, cutRows, details, cutDetails, tc.objects)
				}
			} else if rows != tc.objects || details != tc.objects {
				t.Errorf("rows %d, details %d, want %d", rows, details, tc.objects)
			}
		})
	}
}

// TestReadmeShowsTheGoldenComment keeps the README's tour honest: the plan
// comment it shows is the golden scale-up-does-not-fit.md (the comment
// marker left out and the heading one level down, to sit in the README).
func TestReadmeShowsTheGoldenComment(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile("testdata/scale-up-does-not-fit.md")
	if err != nil {
		t.Fatal(err)
	}
	const start = "`plan/testdata/scale-up-does-not-fit.md`, a golden test's output):\n\n---\n\n"
	_, shown, ok := strings.Cut(string(readme), start)
	if !ok {
		t.Fatalf("README.md has no plan comment introduced by %q", start)
	}
	shown, _, ok = strings.Cut(shown, "\n---\n")
	if !ok {
		t.Fatal("README.md's plan comment does not end with a --- line")
	}
	want := strings.Replace(strings.TrimPrefix(string(golden), "<!-- berth-plan -->\n"), "### ", "#### ", 1)
	if strings.TrimSpace(shown) != strings.TrimSpace(want) {
		t.Errorf("README.md's plan comment is not plan/testdata/scale-up-does-not-fit.md; paste the golden in (marker line out, ### → ####):\n--- README\n%s\n--- golden\n%s", shown, want)
	}
}
