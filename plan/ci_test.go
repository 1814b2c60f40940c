package plan_test

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"

	"github.com/berth-dev/berth/plan"
)

const workflow = "../docs/ci/github-berth-plan.yml"

func lint(t *testing.T, content []byte) []*actionlint.Error {
	t.Helper()
	l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.Lint(workflow, content, nil)
	if err != nil {
		t.Fatal(err)
	}
	return errs
}

// TestWorkflowLints runs actionlint on the GitHub Actions workflow the
// docs hand out; a broken copy shows the linter does look.
func TestWorkflowLints(t *testing.T) {
	content, err := os.ReadFile(workflow)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range lint(t, content) {
		t.Errorf("%s:%d:%d: %s [%s]", workflow, e.Line, e.Column, e.Message, e.Kind)
	}
	broken := strings.Replace(string(content), "steps.plan.outputs.exit", "steps.nosuchstep.outputs.exit", 1)
	if len(lint(t, []byte(broken))) == 0 {
		t.Error("actionlint found nothing wrong with a reference to a step that does not exist")
	}
	for _, want := range []string{plan.CommentMarker, "updateComment", "--annotations github"} {
		if !strings.Contains(string(content), want) {
			t.Errorf("the workflow does not contain %q", want)
		}
	}
}
