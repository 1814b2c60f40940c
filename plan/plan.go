package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pmezard/go-difflib/difflib"
	"go.yaml.in/yaml/v2"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/manifest"
	"github.com/berth-dev/berth/scheduler"
)

// Revision is one side of a plan: a commit as the server reads it. Errors
// set means the revision is invalid (Objects is then empty).
type Revision struct {
	SHA     string
	Subject string
	Objects []manifest.Object
	Errors  manifest.ErrorList
}

// Input is everything a plan is computed from; Compute does no I/O.
type Input struct {
	Base, Head Revision
	// Cluster is the snapshot the head's pods are placed on; nil skips
	// the fit check.
	Cluster *api.ClusterSnapshot
	// Strategy is the server's placement strategy ("": the snapshot's,
	// spread when it names none).
	Strategy scheduler.Strategy
	// Now is when the plan is made: CronJobs' next runs count from it.
	Now time.Time
	// Local is the zone of CronJobs without spec.timeZone (the server's).
	Local *time.Location
	// Source returns the head's text of a file, to point annotations at
	// the exact line; nil points at the object's first line.
	Source func(file string) []byte

	// running counts the snapshot's running pods per owner (diffObjects
	// fills it for consequences).
	running map[objKey]int
}

// Verdict sums a plan up.
type Verdict string

const (
	// VerdictNone: the head changes nothing the server runs.
	VerdictNone Verdict = "none"
	// VerdictChanges: the head changes objects and would be admitted.
	VerdictChanges Verdict = "changes"
	// VerdictRefused: the head is invalid or its pods do not fit.
	VerdictRefused Verdict = "refused"
)

// Exit codes of `berth plan`, as kubectl diff's: 0 none, 1 changes, 2
// refused; 3 is the CLI's own (could not plan).
func (v Verdict) ExitCode() int {
	switch v {
	case VerdictNone:
		return 0
	case VerdictChanges:
		return 1
	}
	return 2
}

// Plan is what a head revision would do, against its base and a cluster.
type Plan struct {
	Base     RevisionInfo       `json:"base"`
	Head     RevisionInfo       `json:"head"`
	Snapshot *SnapshotInfo      `json:"snapshot,omitempty"`
	Verdict  Verdict            `json:"verdict"`
	Summary  string             `json:"summary"`
	Errors   manifest.ErrorList `json:"errors"`
	Warnings manifest.ErrorList `json:"warnings"`
	Changes  []Change           `json:"changes"`
	Fit      *Fit               `json:"fit,omitempty"`
}

// RevisionInfo names a revision.
type RevisionInfo struct {
	SHA     string `json:"sha"`
	Subject string `json:"subject,omitempty"`
}

// SnapshotInfo names the cluster snapshot a plan was placed on.
type SnapshotInfo struct {
	Time    time.Time `json:"time"`
	Applied string    `json:"applied,omitempty"`
	Nodes   int       `json:"nodes"`
	Pods    int       `json:"pods"`
}

// Action is what happens to an object.
type Action string

// Actions.
const (
	Added   Action = "added"
	Changed Action = "changed"
	Removed Action = "removed"
)

// Change is one object that differs between base and head.
type Change struct {
	Action    Action `json:"action"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// File and Line are where the object is (in the head; in the base
	// when removed).
	File string `json:"file"`
	Line int    `json:"line"`
	// Diff is a unified diff of the object after defaults, secret values
	// hidden.
	Diff string `json:"diff"`
	// Consequences say in the user's terms what the server will do.
	Consequences []string `json:"consequences"`
}

// Title is "deployment default/web".
func (c *Change) Title() string {
	return strings.ToLower(c.Kind) + " " + c.Namespace + "/" + c.Name
}

// Fit is the head's admission on the snapshot.
type Fit struct {
	// Admitted is the server's verdict (reconciler.Admit).
	Admitted bool `json:"admitted"`
	// Needed counts the pods the head needs placed right away.
	Needed int `json:"needed"`
	// Placements are where each needed pod goes, grouped per owner, when
	// admitted.
	Placements []Placement `json:"placements,omitempty"`
	// Unfit are the pods that fit nowhere, grouped per owner and reason
	// as `berth status` groups them.
	Unfit []Unfit `json:"unfit,omitempty"`
	// Message is the server's refusal message.
	Message string `json:"message,omitempty"`
}

// Placement is how many pods of an owner go to which nodes.
type Placement struct {
	Owner string         `json:"owner"`
	Nodes map[string]int `json:"nodes"`
}

// Unfit is a group of pods of one owner that fit nowhere.
type Unfit struct {
	Owner     string `json:"owner"`
	Namespace string `json:"namespace"`
	Pods      string `json:"pods"`
	Count     int    `json:"count"`
	Message   string `json:"message"`
	Shortfall string `json:"shortfall,omitempty"`
	// Needs is what one pod asks ("cpu 500m, memory 4Gi").
	Needs string `json:"needs"`
	// PerNode says, per node, why it cannot take one such pod.
	PerNode []string `json:"perNode"`
	// File and Line point at the container's resources.requests in the
	// head (the object's line when not found).
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
}

// Compute makes the plan. It reads nothing but in, and decides admission
// with reconciler.Admit, the code the server admits revisions with.
func Compute(in Input) (*Plan, error) {
	if in.Local == nil {
		in.Local = time.UTC
	}
	p := &Plan{
		Base:     RevisionInfo{SHA: in.Base.SHA, Subject: in.Base.Subject},
		Head:     RevisionInfo{SHA: in.Head.SHA, Subject: in.Head.Subject},
		Errors:   in.Head.Errors,
		Warnings: manifest.Warnings(in.Head.Objects),
		Changes:  []Change{},
	}
	if p.Errors == nil {
		p.Errors = manifest.ErrorList{}
	}
	if p.Warnings == nil {
		p.Warnings = manifest.ErrorList{}
	}
	if in.Cluster != nil {
		p.Snapshot = &SnapshotInfo{Time: in.Cluster.Time, Nodes: len(in.Cluster.Nodes), Pods: len(in.Cluster.Pods)}
		if in.Cluster.Applied != nil {
			p.Snapshot.Applied = in.Cluster.Applied.SHA
		}
	}
	if len(in.Head.Errors) > 0 {
		p.Verdict = VerdictRefused
		p.Summary = fmt.Sprintf("refused: %d problem(s) in the head", len(in.Head.Errors))
		return p, nil
	}
	p.Changes = diffObjects(in)
	refused, fit, err := admission(in)
	if err != nil {
		return nil, err
	}
	p.Fit = fit
	switch {
	case len(refused) > 0:
		// The server refuses the head before placing its pods.
		p.Errors = refused
		p.Verdict = VerdictRefused
		p.Summary = fmt.Sprintf("refused: %d problem(s) in the head", len(refused))
	case p.Fit != nil && !p.Fit.Admitted:
		p.Verdict = VerdictRefused
		unfit := 0
		var owners []string
		for _, u := range p.Fit.Unfit {
			unfit += u.Count
			owners = appendOnce(owners, u.Owner)
		}
		p.Summary = fmt.Sprintf("refused: %d pod(s) of %s do not fit", unfit, strings.Join(owners, ", "))
	case len(p.Changes) == 0:
		p.Verdict = VerdictNone
		p.Summary = "no change"
	default:
		p.Verdict = VerdictChanges
		p.Summary = fmt.Sprintf("%d object(s) change", len(p.Changes))
		switch {
		case p.Fit == nil:
		case p.Fit.Needed == 0:
			p.Summary += ", no new pods to place"
		default:
			p.Summary += fmt.Sprintf(", all %d new pod(s) fit", p.Fit.Needed)
		}
	}
	return p, nil
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

type objKey struct {
	kind      manifest.Kind
	namespace string
	name      string
}

func keyOf(o *manifest.Object) objKey { return objKey{o.Kind, o.Namespace, o.Name} }

func index(objs []manifest.Object) (map[objKey]*manifest.Object, []objKey) {
	m := make(map[objKey]*manifest.Object, len(objs))
	var keys []objKey
	for i := range objs {
		o := &objs[i]
		if o.Skipped {
			continue
		}
		k := keyOf(o)
		if _, ok := m[k]; !ok {
			keys = append(keys, k)
		}
		m[k] = o
	}
	return m, keys
}

// diffObjects compares base and head object by object, in a stable order
// (kind, namespace, name).
func diffObjects(in Input) []Change {
	in.running = countRunning(in.Cluster)
	base, bkeys := index(in.Base.Objects)
	head, hkeys := index(in.Head.Objects)
	all := append([]objKey{}, hkeys...)
	for _, k := range bkeys {
		if _, ok := head[k]; !ok {
			all = append(all, k)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.kind != b.kind {
			return a.kind < b.kind
		}
		if a.namespace != b.namespace {
			return a.namespace < b.namespace
		}
		return a.name < b.name
	})
	// Printing objects is most of a big plan's diffing and each object's
	// is its own: on every core, each into its slot, so the order holds.
	slots := make([]*Change, len(all))
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(all)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				slots[i] = diffOne(in, base[all[i]], head[all[i]], all[i])
			}
		}()
	}
	for i := range all {
		work <- i
	}
	close(work)
	wg.Wait()
	changes := []Change{}
	for _, c := range slots {
		if c != nil {
			changes = append(changes, *c)
		}
	}
	return changes
}

// diffOne compares one object of base (b) and head (h), either nil; nil
// when they print the same.
func diffOne(in Input, b, h *manifest.Object, k objKey) *Change {
	c := &Change{Kind: string(k.kind), Namespace: k.namespace, Name: k.name}
	var before, after string
	switch {
	case b == nil:
		c.Action, c.File, c.Line = Added, h.File, h.Line
		after = canonical(h, nil)
	case h == nil:
		c.Action, c.File, c.Line = Removed, b.File, b.Line
		before = canonical(b, nil)
	default:
		if sameObject(b, h) {
			return nil
		}
		c.File, c.Line = h.File, h.Line
		before, after = canonical(b, nil), canonical(h, b)
		if before == after {
			return nil
		}
		c.Action = Changed
	}
	c.Diff = unified(before, after, c.Title())
	c.Consequences = consequences(in, b, h)
	return c
}

// sameObject is the fast path of the comparison: objects that decode to
// equal values print the same (most objects of a big repository do not
// change). Unequal values may still print the same (1024Mi and 1Gi), so
// they are compared printed. A Secret is always compared printed.
func sameObject(b, h *manifest.Object) bool {
	bv, hv := value(b), value(h)
	return bv != nil && reflect.DeepEqual(bv, hv)
}

// value is the decoded object of o's kind: the one typed pointer a
// decoded Object sets (found by reflection, so a kind added to manifest
// is diffed without a change here); nil for a Secret (printed through
// secretView only).
func value(o *manifest.Object) any {
	if o.Kind == manifest.KindSecret {
		return nil
	}
	v := reflect.ValueOf(o).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() && f.CanInterface() {
			return f.Interface()
		}
	}
	return nil
}

// canonical is the object after defaults as sorted-key YAML: two files
// that decode to the same object print the same. A Secret shows its keys
// only; a value is marked changed when it differs from other's.
func canonical(o, other *manifest.Object) string {
	v := value(o)
	if o.Kind == manifest.KindSecret {
		v = secretView(o, other)
	}
	b, err := toYAML(v)
	if err != nil {
		return fmt.Sprintf("# cannot print: %v\n", err)
	}
	return string(b)
}

// toYAML prints v as sigs.k8s.io/yaml.Marshal does (its JSON form, keys
// sorted) at a third of the cost: the JSON is read back by encoding/json
// (numbers kept as written) instead of by a YAML parser, which was most
// of a big plan's diffing.
func toYAML(v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	return yaml.Marshal(tree)
}

// secretView is a Secret with each value replaced by a digest-free marker:
// "(hidden)" or "(hidden, changed)" against other, so a rotated value shows
// as a change without showing either value. Encrypted values that were not
// decrypted are compared by their ciphertext's absence: "(encrypted)".
func secretView(o, other *manifest.Object) map[string]any {
	s := o.Secret
	data := map[string]string{}
	for k, v := range s.Data {
		switch {
		case v == nil:
			data[k] = "(encrypted)"
		case other != nil && other.Secret != nil && !bytes.Equal(other.Secret.Data[k], v):
			data[k] = fmt.Sprintf("(hidden, changed, %d bytes)", len(v))
		default:
			data[k] = fmt.Sprintf("(hidden, %d bytes)", len(v))
		}
	}
	view := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": s.ObjectMeta, "type": s.Type, "data": data}
	if s.Immutable {
		view["immutable"] = true
	}
	return view
}

func unified(before, after, title string) string {
	d := difflib.UnifiedDiff{
		A:        difflib.SplitLines(before),
		B:        difflib.SplitLines(after),
		FromFile: "base/" + title,
		ToFile:   "head/" + title,
		Context:  3,
	}
	s, err := difflib.GetUnifiedDiffString(d)
	if err != nil {
		return ""
	}
	return s
}
