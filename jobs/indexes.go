package jobs

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/manifest"
)

// maxIndexes bounds how many indexes a persisted list may expand to, so a
// damaged status cannot make the controller allocate without limit. It is
// Kubernetes' limit on completions for Indexed Jobs.
const maxIndexes = manifest.MaxIndexes

// indexSet is a set of completion indexes, written in status the way
// Kubernetes writes completedIndexes and failedIndexes: ascending, with
// runs of consecutive indexes joined by a dash ("1,3-5,7").
type indexSet map[int32]struct{}

func (s indexSet) has(ix int32) bool { _, ok := s[ix]; return ok }

func (s indexSet) add(ix int32) { s[ix] = struct{}{} }

// String formats the set; consecutive indexes become one "a-b" interval.
func (s indexSet) String() string {
	if len(s) == 0 {
		return ""
	}
	xs := make([]int32, 0, len(s))
	for ix := range s {
		xs = append(xs, ix)
	}
	slices.Sort(xs)
	var b strings.Builder
	for i := 0; i < len(xs); {
		j := i
		for j+1 < len(xs) && xs[j+1] == xs[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(xs[i])))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(int(xs[j])))
		}
		i = j + 1
	}
	return b.String()
}

// parseIndexSet reads a set written by String. It is the controller's own
// output read back, but it comes from storage, so it is checked.
func parseIndexSet(s string) (indexSet, error) {
	set := indexSet{}
	if s == "" {
		return set, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseInt(lo, 10, 32)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("index list %q: bad index %q", s, lo)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseInt(hi, 10, 32); err != nil || b < a {
				return nil, fmt.Errorf("index list %q: bad interval %q", s, part)
			}
		}
		if b-a+1 > maxIndexes || len(set)+int(b-a+1) > maxIndexes {
			return nil, fmt.Errorf("index list %q: more than %d indexes", s, maxIndexes)
		}
		for ix := a; ix <= b; ix++ {
			set.add(int32(ix))
		}
	}
	return set, nil
}
