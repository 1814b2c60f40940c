package manifest

import (
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
)

// Kind names one of the object kinds berth reads from Git.
type Kind string

// The kinds berth implements.
const (
	KindPod        Kind = "Pod"
	KindDeployment Kind = "Deployment"
	KindJob        Kind = "Job"
	KindCronJob    Kind = "CronJob"
	KindConfigMap  Kind = "ConfigMap"
	KindSecret     Kind = "Secret"
	KindNamespace  Kind = "Namespace"
	KindService    Kind = "Service"
)

// Key identifies an object: the same Key in two places is an error.
type Key struct {
	Kind      Kind
	Namespace string
	Name      string
}

func (k Key) String() string { return fmt.Sprintf("%s %s/%s", k.Kind, k.Namespace, k.Name) }

// Object is one decoded, validated and defaulted manifest. Exactly one of
// the kind pointers (Pod, Deployment, Service, …) is set, matching Kind. A
// Namespace object has an empty Namespace.
type Object struct {
	Kind      Kind
	Namespace string
	Name      string
	// File is the path of the file inside the tree that was read, and Line
	// the line where the object's document starts (1-based).
	File string
	Line int
	// Skipped is set for an object of a kind listed in .berth.yaml's
	// skipKinds: decoded, never run; only Kind, Namespace, Name, File and
	// Line are set.
	Skipped bool

	Pod             *corev1.Pod
	Deployment      *appsv1.Deployment
	Job             *batchv1.Job
	CronJob         *batchv1.CronJob
	ConfigMap       *corev1.ConfigMap
	Secret          *Secret
	NamespaceObject *corev1.Namespace
	Service         *corev1.Service

	StatefulSet           *appsv1.StatefulSet
	DaemonSet             *appsv1.DaemonSet
	PersistentVolumeClaim *corev1.PersistentVolumeClaim
	StorageClass          *storagev1.StorageClass

	// Warnings are what is accepted but should change (a Secret in clear
	// text in Git); berth validate prints them and the snapshot keeps them.
	Warnings []*Error

	refs []objectRef // ConfigMaps and Secrets its pods use
}

// Key returns the object's identity.
func (o *Object) Key() Key { return Key{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name} }

// Error is one problem in one place: file, line, field path and message.
type Error struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Error formats as `file:line: field: message`, the form editors and CI
// annotators understand.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ErrorList is every problem found in one pass, sorted by file and line.
type ErrorList []*Error

func (l ErrorList) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Sort orders the list by file, line, field and message, so output is stable.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		return a.Message < b.Message
	})
}
