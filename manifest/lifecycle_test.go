package manifest

import (
	"strings"
	"testing"
)

// lifecyclePod is a Pod whose first container (line 7) carries the given
// lifecycle block (from line 9 on), with extra pod-spec lines before it.
func lifecyclePod(specExtra, lifecycle string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n" + specExtra +
		"  containers:\n  - name: app\n    image: busybox\n    ports: [{name: web, containerPort: 8080}]\n    lifecycle:\n" + lifecycle
}

func TestLifecycleValidation(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{name: "preStop exec, as the cassandra example has it",
			yaml: lifecyclePod("", "      preStop:\n        exec:\n          command: [/bin/sh, -c, nodetool drain]\n")},
		{name: "postStart httpGet by port name, https, headers",
			yaml: lifecyclePod("", "      postStart:\n        httpGet: {path: /warm, port: web, scheme: HTTPS, host: 198.18.0.9, httpHeaders: [{name: X-Hook, value: start}]}\n")},
		{name: "preStop sleep within the pod's grace period",
			yaml: lifecyclePod("  terminationGracePeriodSeconds: 60\n", "      preStop:\n        sleep: {seconds: 60}\n")},
		{name: "preStop sleep of zero seconds",
			yaml: lifecyclePod("", "      preStop:\n        sleep: {seconds: 0}\n")},
		{name: "sleep past the default grace period of 30s",
			yaml: lifecyclePod("", "      preStop:\n        sleep: {seconds: 31}\n"),
			want: []string{"f.yaml:11: spec.containers[0].lifecycle.preStop.sleep: Invalid value: 31: must be non-negative and less than terminationGracePeriodSeconds (30)"}},
		{name: "sleep past a short grace period",
			yaml: lifecyclePod("  terminationGracePeriodSeconds: 5\n", "      preStop:\n        sleep: {seconds: 6}\n"),
			want: []string{"f.yaml:12: spec.containers[0].lifecycle.preStop.sleep: Invalid value: 6: must be non-negative and less than terminationGracePeriodSeconds (5)"}},
		{name: "negative sleep",
			yaml: lifecyclePod("", "      postStart:\n        sleep: {seconds: -1}\n"),
			want: []string{"f.yaml:11: spec.containers[0].lifecycle.postStart.sleep: Invalid value: -1: must be non-negative"}},
		{name: "a hook without a handler",
			yaml: lifecyclePod("", "      postStart: {}\n"),
			want: []string{"f.yaml:10: spec.containers[0].lifecycle.postStart: Required value: must specify a handler type"}},
		{name: "two handlers: the second is refused by name",
			yaml: lifecyclePod("", "      preStop:\n        exec: {command: [\"true\"]}\n        httpGet: {port: 80}\n"),
			want: []string{"f.yaml:12: spec.containers[0].lifecycle.preStop.httpGet: Forbidden: may not specify more than 1 handler type"}},
		{name: "exec without a command",
			yaml: lifecyclePod("", "      preStop:\n        exec: {command: []}\n"),
			want: []string{"f.yaml:11: spec.containers[0].lifecycle.preStop.exec.command: Required value"}},
		{name: "httpGet with an unknown scheme",
			yaml: lifecyclePod("", "      postStart:\n        httpGet: {port: 80, scheme: FTP}\n"),
			want: []string{`f.yaml:11: spec.containers[0].lifecycle.postStart.httpGet.scheme: Unsupported value: "FTP": supported values: "HTTP", "HTTPS"`}},
		{name: "httpGet port out of range",
			yaml: lifecyclePod("", "      postStart:\n        httpGet: {port: 70000}\n"),
			want: []string{"f.yaml:11: spec.containers[0].lifecycle.postStart.httpGet.port: Invalid value: 70000: must be between 1 and 65535, inclusive"}},
		{name: "httpGet header name that is no HTTP token",
			yaml: lifecyclePod("", "      postStart:\n        httpGet: {port: 80, httpHeaders: [{name: 'bad header', value: x}]}\n"),
			want: []string{`f.yaml:11: spec.containers[0].lifecycle.postStart.httpGet.httpHeaders: Invalid value: "bad header": a valid HTTP header must consist of alphanumeric characters or '-'`}},
		{name: "tcpSocket is refused by name",
			yaml: lifecyclePod("", "      preStop:\n        tcpSocket: {port: 80}\n"),
			want: []string{"f.yaml:11: spec.containers[0].lifecycle.preStop.tcpSocket: Forbidden: not supported by berth: tcpSocket is deprecated as a lifecycle handler"}},
		{name: "a field of the hook berth does not know",
			yaml: lifecyclePod("", "      preStop:\n        grpc: {port: 80}\n"),
			want: []string{"f.yaml:10: spec.containers[0].lifecycle.preStop: Required value: must specify a handler type", "f.yaml:11: spec.containers[0].lifecycle.preStop.grpc: unknown field"}},
		{name: "hooks on an init container",
			yaml: "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  initContainers:\n  - name: setup\n    image: busybox\n    lifecycle:\n      preStop: {exec: {command: [\"true\"]}}\n  containers: [{name: app, image: busybox}]\n",
			want: []string{"f.yaml:8: spec.initContainers[0].lifecycle: Forbidden: may not be set for init containers without restartPolicy=Always"}},
		{name: "hooks on a sidecar, checked like an app container's",
			yaml: "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  initContainers:\n  - name: proxy\n    image: busybox\n    restartPolicy: Always\n    lifecycle:\n      postStart: {exec: {command: [\"true\"]}}\n      preStop: {sleep: {seconds: 45}}\n  containers: [{name: app, image: busybox}]\n",
			want: []string{"f.yaml:11: spec.initContainers[0].lifecycle.preStop.sleep: Invalid value: 45: must be non-negative and less than terminationGracePeriodSeconds (30)"}},
		{name: "in a Deployment's template, the template's grace period counts",
			yaml: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      terminationGracePeriodSeconds: 10\n      containers:\n      - name: app\n        image: busybox\n        lifecycle:\n          preStop: {sleep: {seconds: 11}}\n",
			want: []string{"f.yaml:14: spec.template.spec.containers[0].lifecycle.preStop.sleep: Invalid value: 11: must be non-negative and less than terminationGracePeriodSeconds (10)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErrors(t, tt.yaml, tt.want)
		})
	}
}

func TestLifecycleFieldsListed(t *testing.T) {
	table := FieldsMarkdown()
	for _, f := range []string{"lifecycle.postStart → LifecycleHandler", "lifecycle.preStop → LifecycleHandler", "| LifecycleHandler | `exec.command[]`", "| LifecycleHandler | `httpGet.port`", "| LifecycleHandler | `sleep.seconds`"} {
		if !strings.Contains(table, f) {
			t.Errorf("the supported-fields table lacks %q", f)
		}
	}
}
