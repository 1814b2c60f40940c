// Command benchtable reads `go test -bench` output on stdin and prints the
// figures as one aligned table, a row per benchmark metric, so `just bench`
// shows numbers a person can read (and paste into a note) rather than the
// raw benchmark lines. Lines it does not recognise pass through unchanged
// on stderr, so failures stay visible.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "PACKAGE\tBENCHMARK\tVALUE\tUNIT\t")
	pkg := ""
	failed := false
	for in.Scan() {
		line := in.Text()
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimPrefix(strings.TrimPrefix(line, "pkg: "), "github.com/berth-dev/berth/")
		case strings.HasPrefix(line, "Benchmark"):
			f := strings.Fields(line)
			if len(f) < 4 {
				fmt.Fprintln(os.Stderr, line)
				continue
			}
			name := strings.TrimPrefix(f[0], "Benchmark")
			if i := strings.LastIndex(name, "-"); i > 0 {
				name = name[:i]
			}
			// f[1] is the iteration count; then value/unit pairs.
			for i := 2; i+1 < len(f); i += 2 {
				if f[i+1] == "ns/op" && len(f) > 4 {
					continue // the custom metrics say more than the loop time
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t\n", pkg, name, f[i], f[i+1])
			}
		case strings.HasPrefix(line, "FAIL"), strings.HasPrefix(line, "--- FAIL"), strings.HasPrefix(line, "panic:"):
			failed = true
			fmt.Fprintln(os.Stderr, line)
		case strings.HasPrefix(line, "ok "), strings.HasPrefix(line, "PASS"), strings.HasPrefix(line, "goos:"),
			strings.HasPrefix(line, "goarch:"), strings.HasPrefix(line, "cpu:"), strings.HasPrefix(line, "?"):
		default:
			fmt.Fprintln(os.Stderr, line)
		}
	}
	w.Flush()
	if failed {
		os.Exit(1)
	}
}
