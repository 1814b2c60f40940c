package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// CommentMarker starts every Markdown plan, so CI finds its own comment
// to edit in place.
const CommentMarker = "<!-- berth-plan -->"

// MaxMarkdown is GitHub's limit on a comment's length, in characters.
const MaxMarkdown = 65536

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func (p *Plan) verdictLine() string {
	switch p.Verdict {
	case VerdictNone:
		return "➖ no change"
	case VerdictChanges:
		return "✅ " + p.Summary
	}
	return "❌ " + p.Summary
}

func (p *Plan) headerLine() string {
	s := fmt.Sprintf("base %s → head %s", short(p.Base.SHA), short(p.Head.SHA))
	if p.Head.Subject != "" {
		s += fmt.Sprintf(" (%s)", p.Head.Subject)
	}
	return s
}

func (p *Plan) snapshotLine() string {
	if p.Snapshot == nil {
		return "no cluster snapshot: fit not checked"
	}
	s := fmt.Sprintf("cluster snapshot of %s: %d nodes, %d pods", p.Snapshot.Time.UTC().Format("2006-01-02 15:04:05 UTC"), p.Snapshot.Nodes, p.Snapshot.Pods)
	if p.Snapshot.Applied != "" {
		s += ", applied " + short(p.Snapshot.Applied)
	}
	return s
}

func placementLine(pl Placement) string {
	nodes := make([]string, 0, len(pl.Nodes))
	for n := range pl.Nodes {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	parts := make([]string, len(nodes))
	total := 0
	for i, n := range nodes {
		parts[i] = fmt.Sprintf("%s ×%d", n, pl.Nodes[n])
		total += pl.Nodes[n]
	}
	return fmt.Sprintf("%d pod(s) of %s → %s", total, pl.Owner, strings.Join(parts, ", "))
}

func unfitLine(u Unfit) string {
	s := fmt.Sprintf("%s (%s): %s", u.Pods, u.Namespace, strings.TrimSuffix(u.Message, "."))
	if u.Needs != "" {
		s += "; each asks " + u.Needs
	}
	if u.Shortfall != "" {
		s += "; " + u.Shortfall
	}
	return s
}

// Text writes the terminal view; colour adds ANSI colours (on a tty).
func Text(w io.Writer, p *Plan, colour bool) error {
	c := func(code, s string) string {
		if !colour {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "berth plan: %s\n%s\n", p.headerLine(), p.snapshotLine())
	if len(p.Errors) > 0 {
		fmt.Fprintf(&b, "\n%s\n", c("1", "Validation"))
		for _, e := range p.Errors {
			fmt.Fprintf(&b, "  %s\n", c("31", e.Error()))
		}
	}
	for _, e := range p.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", e.Error())
	}
	if len(p.Changes) > 0 {
		fmt.Fprintf(&b, "\n%s\n", c("1", "Changes"))
	}
	for _, ch := range p.Changes {
		sign, code := "~", "33"
		switch ch.Action {
		case Added:
			sign, code = "+", "32"
		case Removed:
			sign, code = "-", "31"
		}
		fmt.Fprintf(&b, "  %s %s (%s:%d)\n", c(code, sign), c("1", ch.Title()), ch.File, ch.Line)
		for _, q := range ch.Consequences {
			fmt.Fprintf(&b, "      %s\n", q)
		}
		for _, l := range strings.SplitAfter(ch.Diff, "\n") {
			if l == "" {
				continue
			}
			switch {
			case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
				l = c("1", strings.TrimSuffix(l, "\n")) + "\n"
			case strings.HasPrefix(l, "+"):
				l = c("32", strings.TrimSuffix(l, "\n")) + "\n"
			case strings.HasPrefix(l, "-"):
				l = c("31", strings.TrimSuffix(l, "\n")) + "\n"
			case strings.HasPrefix(l, "@@"):
				l = c("36", strings.TrimSuffix(l, "\n")) + "\n"
			}
			b.WriteString("      " + l)
		}
	}
	if p.Fit != nil {
		fmt.Fprintf(&b, "\n%s\n", c("1", "Fit"))
		for _, pl := range p.Fit.Placements {
			fmt.Fprintf(&b, "  %s\n", placementLine(pl))
		}
		for _, u := range p.Fit.Unfit {
			fmt.Fprintf(&b, "  %s\n", c("31", unfitLine(u)))
			for _, n := range u.PerNode {
				fmt.Fprintf(&b, "      %s\n", n)
			}
		}
		if p.Fit.Admitted && p.Fit.Needed == 0 {
			b.WriteString("  no new pods to place\n")
		}
	}
	fmt.Fprintf(&b, "\n%s\n", c("1", p.verdictLine()))
	_, err := io.WriteString(w, b.String())
	return err
}

// JSON writes the plan as one indented JSON document.
func JSON(w io.Writer, p *Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// Markdown is the plan as a pull-request comment: the verdict first, a
// summary table, validation and fit, then one <details> per object. It
// stays under limit characters (MaxMarkdown when 0): table rows and
// object sections past the limit are left out, deterministically (in the
// plan's order), and counted in a last line.
func Markdown(p *Plan, limit int) string {
	if limit <= 0 {
		limit = MaxMarkdown
	}
	const reserve = 400 // the closing line about what was cut
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n### %s\n\n", CommentMarker, mdEscape(p.verdictLine()))
	fmt.Fprintf(&b, "`berth plan` %s · %s\n\n", mdEscape(p.headerLine()), p.snapshotLine())
	// Lines of the validation and fit sections past the limit are left
	// out and counted.
	cutLines := 0
	line := func(format string, args ...any) {
		l := fmt.Sprintf(format, args...)
		if b.Len()+len(l)+reserve > limit {
			cutLines++
			return
		}
		b.WriteString(l)
	}
	if len(p.Errors) > 0 {
		b.WriteString("**Validation**\n\n")
		for _, e := range p.Errors {
			line("- `%s`\n", strings.ReplaceAll(e.Error(), "`", "'"))
		}
		b.WriteString("\n")
	}
	for _, e := range p.Warnings {
		line("- warning: `%s`\n", strings.ReplaceAll(e.Error(), "`", "'"))
	}
	if p.Fit != nil {
		if len(p.Fit.Unfit) > 0 {
			b.WriteString("**Does not fit**\n\n")
			for _, u := range p.Fit.Unfit {
				where := ""
				if u.File != "" {
					where = fmt.Sprintf(" (`%s:%d`)", u.File, u.Line)
				}
				line("- %s%s\n", mdEscape(unfitLine(u)), where)
				for _, n := range u.PerNode {
					line("  - %s\n", mdEscape(n))
				}
			}
			b.WriteString("\n")
		}
	}
	cutRows, cutDetails := 0, 0
	if len(p.Changes) > 0 {
		b.WriteString("| object | action | what berth will do |\n|---|---|---|\n")
		for _, ch := range p.Changes {
			row := fmt.Sprintf("| %s | %s | %s |\n", mdCell(ch.Title()), ch.Action, mdCell(strings.Join(ch.Consequences, "; ")))
			if b.Len()+len(row)+reserve > limit {
				cutRows++
				continue
			}
			b.WriteString(row)
		}
		b.WriteString("\n")
	}
	// Placements after the table: on a big change they are many and say
	// less than what changes.
	if p.Fit != nil && p.Fit.Admitted && len(p.Fit.Placements) > 0 {
		b.WriteString("**Placement**\n\n")
		for _, pl := range p.Fit.Placements {
			line("- %s\n", mdEscape(placementLine(pl)))
		}
		b.WriteString("\n")
	}
	if len(p.Changes) > 0 {
		for _, ch := range p.Changes {
			fence := "```"
			for strings.Contains(ch.Diff, fence) {
				fence += "`"
			}
			sec := fmt.Sprintf("<details><summary>%s %s (<code>%s:%d</code>)</summary>\n\n%sdiff\n%s%s\n\n</details>\n", ch.Action, htmlEscape(ch.Title()), htmlEscape(ch.File), ch.Line, fence, ch.Diff, fence)
			if b.Len()+len(sec)+reserve > limit {
				cutDetails++
				continue
			}
			b.WriteString(sec)
		}
	}
	if cutLines+cutRows+cutDetails > 0 {
		fmt.Fprintf(&b, "\n_Left out to stay under GitHub's %d-character limit: %d line(s) of validation and fit, %d table row(s), %d object diff(s). Run `berth plan` locally for all of them._\n", limit, cutLines, cutRows, cutDetails)
	}
	return b.String()
}

func mdEscape(s string) string {
	r := strings.NewReplacer("<", "&lt;", ">", "&gt;", "|", "\\|")
	return r.Replace(s)
}

func mdCell(s string) string { return strings.ReplaceAll(mdEscape(s), "\n", " ") }

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// GitHubAnnotations writes GitHub Actions workflow commands: an error on
// the line of every invalid field, and on the resources.requests line of
// each container whose pods do not fit.
func GitHubAnnotations(w io.Writer, p *Plan) error {
	var b strings.Builder
	for _, e := range p.Errors {
		msg := e.Message
		if e.Field != "" {
			msg = e.Field + ": " + msg
		}
		fmt.Fprintf(&b, "::error file=%s,line=%d,title=%s::%s\n", ghProp(e.File), max(e.Line, 1), ghProp("berth: invalid"), ghData(msg))
	}
	if p.Fit != nil {
		for _, u := range p.Fit.Unfit {
			if u.File == "" {
				fmt.Fprintf(&b, "::error title=%s::%s\n", ghProp("berth: does not fit"), ghData(unfitLine(u)+"\n"+strings.Join(u.PerNode, "\n")))
				continue
			}
			fmt.Fprintf(&b, "::error file=%s,line=%d,title=%s::%s\n", ghProp(u.File), max(u.Line, 1), ghProp("berth: does not fit"), ghData(unfitLine(u)+"\n"+strings.Join(u.PerNode, "\n")))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ghData and ghProp escape as the runner's command parser expects.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProp(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
