package manifest

import (
	"errors"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestBrokenTree checks that a tree with one file per class of mistake
// yields exactly one `file:line: field: message` per problem, in order.
func TestBrokenTree(t *testing.T) {
	_, err := Load(os.DirFS("testdata/broken"), ".")
	var errs ErrorList
	if !errors.As(err, &errs) {
		t.Fatalf("Load: want ErrorList, got %v", err)
	}
	got := errs.Error() + "\n"
	const golden = "testdata/broken.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("errors differ from %s (run go test ./manifest -run TestBrokenTree -update to accept):\n--- got\n%s--- want\n%s", golden, got, want)
	}
}

func TestExamplesRepoIsValid(t *testing.T) {
	objs, err := Load(os.DirFS("../examples-repo"), ".")
	if err != nil {
		t.Fatalf("examples-repo must validate:\n%v", err)
	}
	kinds := map[Kind]int{}
	for _, o := range objs {
		kinds[o.Kind]++
	}
	for _, k := range []Kind{KindPod, KindDeployment, KindJob, KindCronJob, KindService} {
		if kinds[k] == 0 {
			t.Errorf("examples-repo has no %s", k)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // each a full `file:line: field: message` prefix
	}{
		{
			name: "not a mapping",
			yaml: "- a\n- b\n",
			want: []string{"f.yaml:1: a document must be a mapping"},
		},
		{
			name: "missing kind",
			yaml: "apiVersion: v1\nmetadata: {name: x}\n",
			want: []string{"f.yaml:1: kind: Required value"},
		},
		{
			name: "missing apiVersion",
			yaml: "kind: Pod\nmetadata: {name: x}\n",
			want: []string{"f.yaml:1: apiVersion: Required value"},
		},
		{
			name: "missing name and containers",
			yaml: "apiVersion: v1\nkind: Pod\nspec: {}\n",
			want: []string{"f.yaml:1: metadata.name: Required value", "f.yaml:3: spec.containers: Required value"},
		},
		{
			name: "second document line",
			yaml: "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: B}\nspec: {containers: [{name: c, image: i}]}\n",
			want: []string{"f.yaml:8: metadata.name: Invalid value"},
		},
		{
			name: "unsupported field in container",
			yaml: "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n    image: i\n    securityContext:\n      seLinuxOptions: {level: s0}\n",
			want: []string{"f.yaml:9: spec.containers[0].securityContext.seLinuxOptions: not supported by berth"},
		},
		{
			name: "status is not desired state",
			yaml: "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: i}]}\nstatus:\n  phase: Running\n",
			want: []string{"f.yaml:5: status: status is written by berth"},
		},
		{
			name: "sidecar policy on app container",
			yaml: "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n    image: i\n    restartPolicy: Always\n",
			want: []string{"f.yaml:8: spec.containers[0].restartPolicy: Forbidden"},
		},
		{
			name: "init container name clashes with app container",
			yaml: "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  initContainers:\n  - name: c\n    image: i\n  containers:\n  - name: c\n    image: i\n",
			want: []string{"f.yaml:9: spec.containers[0].name: Duplicate value"},
		},
		{
			name: "subPath escapes",
			yaml: "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  volumes: [{name: v, emptyDir: {}}]\n  containers:\n  - name: c\n    image: i\n    volumeMounts:\n    - name: v\n      mountPath: /v\n      subPath: ../../etc\n",
			want: []string{"f.yaml:12: spec.containers[0].volumeMounts[0].subPath: Invalid value"},
		},
		{
			name: "resource other than cpu and memory",
			yaml: "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n    image: i\n    resources:\n      limits:\n        nvidia.com/gpu: 1\n",
			want: []string{"f.yaml:10: spec.containers[0].resources.limits[nvidia.com/gpu]: Unsupported value"},
		},
		{
			name: "bad gang annotation",
			yaml: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  annotations:\n    berth.dev/gang-min: \"zero\"\nspec: {containers: [{name: c, image: i}]}\n",
			want: []string{"f.yaml:6: metadata.annotations[berth.dev/gang-min]: Invalid value"},
		},
		{
			name: "job with podFailurePolicy and OnFailure",
			yaml: "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  podFailurePolicy:\n    rules:\n    - action: FailJob\n      onExitCodes: {operator: In, values: [0]}\n  template:\n    spec:\n      restartPolicy: OnFailure\n      containers: [{name: c, image: i}]\n",
			want: []string{"f.yaml:8: spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value", "f.yaml:11: spec.template.spec.restartPolicy: Invalid value"},
		},
		{
			name: "indexed job without completions",
			yaml: "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  completionMode: Indexed\n  parallelism: 2\n  template:\n    spec:\n      containers: [{name: c, image: i}]\n",
			want: []string{"f.yaml:4: spec.completions: Required value"},
		},
		{
			name: "indexed job with more than 100000 completions",
			yaml: "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  completionMode: Indexed\n  completions: 100001\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: i}]\n",
			want: []string{"f.yaml:6: spec.completions: Invalid value"},
		},
		{
			name: "job gang-min above parallelism",
			yaml: "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\n  annotations: {berth.dev/gang-min: \"3\"}\nspec:\n  parallelism: 2\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: i}]\n",
			want: []string{"f.yaml:5: metadata.annotations[berth.dev/gang-min]: Invalid value"},
		},
		{
			name: "cronjob template gang-min not a number",
			yaml: "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  schedule: \"@hourly\"\n  jobTemplate:\n    metadata:\n      annotations: {berth.dev/gang-min: two}\n    spec: {parallelism: 2, template: {spec: {restartPolicy: Never, containers: [{name: c, image: i}]}}}\n",
			want: []string{"f.yaml:8: spec.jobTemplate.metadata.annotations[berth.dev/gang-min]: Invalid value"},
		},
		{
			name: "deployment without selector",
			yaml: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c, image: i}]}\n",
			want: []string{"f.yaml:4: spec.selector: Required value"},
		},
		{
			name: "cron macro with every and TZ",
			yaml: "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  schedule: CRON_TZ=UTC @hourly\n  jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: i}]}}}}\n",
			want: []string{"f.yaml:5: spec.schedule: Invalid value"},
		},
		{
			name: "wrong type in list item",
			yaml: "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n    image: i\n    ports:\n    - containerPort: \"eighty\"\n",
			want: []string{"f.yaml:9: spec.containers.ports.containerPort: wrong type"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := DecodeFile("f.yaml", []byte(tt.yaml))
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(tt.want), errs)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(errs[i].Error(), w) {
					t.Errorf("error %d:\n got %s\nwant prefix %s", i, errs[i], w)
				}
			}
		})
	}
}

func TestHostileInput(t *testing.T) {
	bomb := "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
	for i, prev := 0, "a"; i < 9; i++ {
		name := string(rune('b' + i))
		bomb += name + ": &" + name + " [*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + "]\n"
		prev = name
	}
	bomb = "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n" + bomb
	tests := []struct {
		name string
		data string
		want string
	}{
		{name: "alias bomb", data: bomb, want: "expands to more than"},
		{name: "deep nesting", data: "apiVersion: v1\nkind: Pod\nx: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n", want: "nesting deeper than"},
		{name: "deep block nesting", data: deepBlock(200), want: "nesting deeper than"},
		{name: "a million documents", data: strings.Repeat("---\n{}\n", 1_000_000)[:MaxFileSize], want: "more than 10000 documents"},
		{name: "too large", data: strings.Repeat("#", MaxFileSize+1), want: "larger than the limit"},
		{name: "integer overflow", data: "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  terminationGracePeriodSeconds: 99999999999999999999999\n", want: "wrong type"},
		{name: "non-string key", data: "apiVersion: v1\nkind: Pod\n? [a, b]\n: c\n", want: "mapping keys must be strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, errs := DecodeFile("h.yaml", []byte(tt.data))
			if len(errs) == 0 || !strings.Contains(errs.Error(), tt.want) {
				t.Fatalf("want an error containing %q, got %v", tt.want, errs)
			}
			t.Logf("failed in %v", time.Since(start))
		})
	}
}

func deepBlock(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Pod\n")
	for i := 0; i < n; i++ {
		b.WriteString(strings.Repeat(" ", i) + "k:\n")
	}
	b.WriteString(strings.Repeat(" ", n) + "v\n")
	return b.String()
}

func TestFileSizeLimitInLoad(t *testing.T) {
	fsys := fstest.MapFS{"big.yaml": {Data: make([]byte, MaxFileSize+1)}}
	_, err := Load(fsys, ".")
	if err == nil || !strings.Contains(err.Error(), "big.yaml: file is larger than the limit") {
		t.Fatalf("got %v", err)
	}
}

func TestLoadSkipsHiddenAndOtherFiles(t *testing.T) {
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: i}]}\n"
	fsys := fstest.MapFS{
		"apps/a.yaml":         {Data: []byte(pod)},
		"apps/notes.md":       {Data: []byte("not: [yaml")},
		".github/ci.yaml":     {Data: []byte("not: [yaml")},
		"apps/.hidden.yaml":   {Data: []byte("not: [yaml")},
		"apps/b.json":         {Data: []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"b"},"spec":{"containers":[{"name":"c","image":"i"}]}}`)},
		"other/ignored.yml":   {Data: []byte("not: [yaml")},
		"apps/sub/empty.yaml": {Data: []byte("---\n---\n")},
	}
	objs, err := Load(fsys, "apps")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].File != "a.yaml" || objs[1].File != "b.json" {
		t.Fatalf("got %+v", objs)
	}
}

func TestDefaults(t *testing.T) {
	objs, errs := DecodeFile("d.yaml", []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
      - name: latest
        image: reg:5000/x
        resources: {limits: {memory: 64Mi}}
        readinessProbe: {httpGet: {port: 80}}
      - name: pinned
        image: reg:5000/x:1.2
        ports: [{containerPort: 80}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: j, namespace: batch}
spec:
  template: {spec: {containers: [{name: c, image: i:1}]}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: queue}
spec:
  parallelism: 3
  template: {spec: {containers: [{name: c, image: i:1}]}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: c}
spec:
  schedule: "@hourly"
  jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: i@sha256:abc}]}}}}
`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	d, j, q, cj := objs[0].Deployment, objs[1].Job, objs[2].Job, objs[3].CronJob
	check := func(name string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("deployment namespace", objs[0].Namespace, "default")
	check("replicas", *d.Spec.Replicas, int32(1))
	check("strategy", d.Spec.Strategy.Type, appsv1.RollingUpdateDeploymentStrategyType)
	check("maxSurge", d.Spec.Strategy.RollingUpdate.MaxSurge.String(), "25%")
	check("maxUnavailable", d.Spec.Strategy.RollingUpdate.MaxUnavailable.String(), "25%")
	check("progressDeadlineSeconds", *d.Spec.ProgressDeadlineSeconds, int32(600))
	ps := d.Spec.Template.Spec
	check("restartPolicy", ps.RestartPolicy, corev1.RestartPolicyAlways)
	check("grace", *ps.TerminationGracePeriodSeconds, int64(30))
	check("pull no tag", ps.Containers[0].ImagePullPolicy, corev1.PullAlways)
	check("pull tag", ps.Containers[1].ImagePullPolicy, corev1.PullIfNotPresent)
	check("protocol", ps.Containers[1].Ports[0].Protocol, corev1.ProtocolTCP)
	req := ps.Containers[0].Resources.Requests[corev1.ResourceMemory]
	check("request from limit", req.Cmp(resource.MustParse("64Mi")), 0)
	check("probe period", ps.Containers[0].ReadinessProbe.PeriodSeconds, int32(10))
	check("probe path", ps.Containers[0].ReadinessProbe.HTTPGet.Path, "/")
	check("job namespace", objs[1].Namespace, "batch")
	check("job completions", *j.Spec.Completions, int32(1))
	check("job parallelism", *j.Spec.Parallelism, int32(1))
	check("job backoffLimit", *j.Spec.BackoffLimit, int32(6))
	check("job mode", *j.Spec.CompletionMode, batchv1.NonIndexedCompletion)
	check("job restartPolicy", j.Spec.Template.Spec.RestartPolicy, corev1.RestartPolicyNever)
	check("work queue completions unset", q.Spec.Completions == nil, true)
	check("cron concurrency", cj.Spec.ConcurrencyPolicy, batchv1.AllowConcurrent)
	check("cron success history", *cj.Spec.SuccessfulJobsHistoryLimit, int32(3))
	check("cron failed history", *cj.Spec.FailedJobsHistoryLimit, int32(1))
	check("digest pull", cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].ImagePullPolicy, corev1.PullIfNotPresent)
}

func TestParseSchedule(t *testing.T) {
	ny := "America/New_York"
	local := "Local"
	mars := "Mars/Base"
	tests := []struct {
		name     string
		schedule string
		zone     *string
		wantErr  string
	}{
		{name: "five fields", schedule: "*/5 * * * *"},
		{name: "macro", schedule: "@daily"},
		{name: "every", schedule: "@every 1h"},
		{name: "with zone", schedule: "30 2 * * *", zone: &ny},
		{name: "six fields", schedule: "0 30 2 * * *", wantErr: "expected exactly 5 fields"},
		{name: "TZ prefix", schedule: "TZ=UTC 0 * * * *", wantErr: "not allowed"},
		{name: "malformed TZ prefix that panics robfig", schedule: "TZ=", wantErr: "not allowed"},
		{name: "CRON_TZ prefix", schedule: "CRON_TZ=Europe/Berlin 0 * * * *", wantErr: "not allowed"},
		{name: "empty", schedule: "  ", wantErr: "empty"},
		{name: "Local zone", schedule: "@daily", zone: &local, wantErr: "explicit IANA zone"},
		{name: "unknown zone", schedule: "@daily", zone: &mars, wantErr: "unknown time zone"},
		{name: "garbage", schedule: "@reboot", wantErr: "unrecognized descriptor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, loc, err := ParseSchedule(tt.schedule, tt.zone)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want error containing %q, got %v", tt.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s == nil || (tt.zone != nil) != (loc != nil) {
				t.Fatalf("schedule %v, location %v", s, loc)
			}
		})
	}
}

func TestDefaultPullPolicy(t *testing.T) {
	tests := []struct {
		image string
		want  corev1.PullPolicy
	}{
		{"busybox", corev1.PullAlways},
		{"busybox:latest", corev1.PullAlways},
		{"busybox:1.35", corev1.PullIfNotPresent},
		{"127.0.0.1:5000/berth/busybox", corev1.PullAlways},
		{"127.0.0.1:5000/berth/busybox:1.35", corev1.PullIfNotPresent},
		{"busybox@sha256:0123", corev1.PullIfNotPresent},
	}
	for _, tt := range tests {
		if got := DefaultPullPolicy(tt.image); got != tt.want {
			t.Errorf("DefaultPullPolicy(%q) = %s, want %s", tt.image, got, tt.want)
		}
	}
}

func TestEverySupportedFieldIsAKubernetesField(t *testing.T) {
	// A row of the table that Kubernetes does not know would make berth
	// promise a field the strict decoder refuses: walk every row's path
	// through the k8s.io/api type of its group, by JSON name.
	groups := map[string]reflect.Type{
		"Object":                reflect.TypeOf(corev1.Pod{}),
		"ObjectMeta":            reflect.TypeOf(metav1.ObjectMeta{}),
		"TemplateMeta":          reflect.TypeOf(metav1.ObjectMeta{}),
		"LabelSelector":         reflect.TypeOf(metav1.LabelSelector{}),
		"Pod":                   reflect.TypeOf(corev1.Pod{}),
		"Deployment":            reflect.TypeOf(appsv1.Deployment{}),
		"Job":                   reflect.TypeOf(batchv1.Job{}),
		"CronJob":               reflect.TypeOf(batchv1.CronJob{}),
		"JobSpec":               reflect.TypeOf(batchv1.JobSpec{}),
		"PodSpec":               reflect.TypeOf(corev1.PodSpec{}),
		"Container":             reflect.TypeOf(corev1.Container{}),
		"Probe":                 reflect.TypeOf(corev1.Probe{}),
		"LifecycleHandler":      reflect.TypeOf(corev1.LifecycleHandler{}),
		"ConfigMap":             reflect.TypeOf(corev1.ConfigMap{}),
		"Secret":                reflect.TypeOf(corev1.Secret{}),
		"KeyToPath":             reflect.TypeOf(corev1.KeyToPath{}),
		"DownwardAPIFile":       reflect.TypeOf(corev1.DownwardAPIVolumeFile{}),
		"Service":               reflect.TypeOf(corev1.Service{}),
		"StatefulSet":           reflect.TypeOf(appsv1.StatefulSet{}),
		"DaemonSet":             reflect.TypeOf(appsv1.DaemonSet{}),
		"PersistentVolumeClaim": reflect.TypeOf(corev1.PersistentVolumeClaim{}),
		"StorageClass":          reflect.TypeOf(storagev1.StorageClass{}),
		"ClaimTemplate":         reflect.TypeOf(corev1.PersistentVolumeClaim{}),
		"ClaimSpec":             reflect.TypeOf(corev1.PersistentVolumeClaimSpec{}),
	}
	for _, row := range Supported {
		typ, ok := groups[row.Group]
		if !ok {
			t.Errorf("row %s %s: unknown group", row.Group, row.Path)
			continue
		}
		for _, seg := range strings.Split(row.Path, ".") {
			list := strings.HasSuffix(seg, "[]")
			seg = strings.TrimSuffix(seg, "[]")
			typ = derefType(typ)
			if seg == "*" {
				if typ.Kind() != reflect.Map {
					t.Errorf("row %s %s: * on %s, not a map", row.Group, row.Path, typ)
					break
				}
				typ = typ.Elem()
			} else if typ = jsonField(typ, seg); typ == nil {
				t.Errorf("row %s %s: Kubernetes has no field %q there", row.Group, row.Path, seg)
				break
			}
			if list {
				if typ.Kind() != reflect.Slice {
					t.Errorf("row %s %s: %s[] is not a list", row.Group, row.Path, seg)
					break
				}
				typ = typ.Elem()
			}
		}
		if row.Ref != "" && typ != nil && derefType(typ) != groups[row.Ref] {
			t.Errorf("row %s %s: refers to %s but the field is a %s", row.Group, row.Path, row.Ref, typ)
		}
	}
}

func derefType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// jsonField finds the field of struct type t whose JSON name is name,
// looking into inline (embedded) structs as encoding/json does.
func jsonField(t reflect.Type, name string) reflect.Type {
	if t.Kind() != reflect.Struct {
		return nil
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == name {
			return f.Type
		}
		if f.Anonymous || (tag == "" && strings.Contains(f.Tag.Get("json"), "inline")) {
			if ft := jsonField(derefType(f.Type), name); ft != nil {
				return ft
			}
		}
	}
	return nil
}

// TestValidateJobRules: the rules jobs.SyncJob relies on, checked on a Job
// that did not come through Load.
func TestValidateJobRules(t *testing.T) {
	i32 := func(v int32) *int32 { return &v }
	indexed := batchv1.IndexedCompletion
	tests := []struct {
		name    string
		mod     func(*batchv1.Job)
		wantErr string // substring; "" for valid
	}{
		{name: "a plain Job is valid", mod: func(*batchv1.Job) {}},
		{name: "negative parallelism", mod: func(j *batchv1.Job) { j.Spec.Parallelism = i32(-1) }, wantErr: "spec.parallelism"},
		{name: "maxFailedIndexes needs backoffLimitPerIndex", mod: func(j *batchv1.Job) {
			j.Spec.CompletionMode, j.Spec.Completions, j.Spec.MaxFailedIndexes = &indexed, i32(4), i32(1)
		}, wantErr: "spec.backoffLimitPerIndex: Required value"},
		{name: "maxFailedIndexes above completions", mod: func(j *batchv1.Job) {
			j.Spec.CompletionMode, j.Spec.Completions, j.Spec.BackoffLimitPerIndex, j.Spec.MaxFailedIndexes = &indexed, i32(2), i32(1), i32(3)
		}, wantErr: "spec.maxFailedIndexes"},
		{name: "gang-min above parallelism", mod: func(j *batchv1.Job) {
			j.Spec.Parallelism = i32(2)
			j.Annotations = map[string]string{AnnotationGangMin: "3"}
		}, wantErr: "metadata.annotations[berth.dev/gang-min]"},
		{name: "gang-min above parallelism 1 is allowed: the Job is no gang", mod: func(j *batchv1.Job) {
			j.Annotations = map[string]string{AnnotationGangMin: "2"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &batchv1.Job{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "i"}}}}}}
			tt.mod(j)
			err := ValidateJobRules(j)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("ValidateJobRules: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("ValidateJobRules = %v, want an error naming %s", err, tt.wantErr)
			}
		})
	}
}
