//go:build !berth_agent

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

const configManifests = `apiVersion: v1
kind: ConfigMap
metadata: {name: app}
data: {greeting: hello, mode: fast}
binaryData: {logo: AAEC}
---
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: ops}
type: kubernetes.io/basic-auth
stringData: {username: admin, password: hunter2-very-secret}
`

// TestGetAndDescribeConfigs prints ConfigMaps and Secrets with kubectl's
// columns, and a Secret as keys and sizes: its values appear in no output.
func TestGetAndDescribeConfigs(t *testing.T) {
	s := newCLIServer(t)
	s.load(configManifests)
	c := s.admin()
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(out, errOut *bytes.Buffer) error
		want string // "" checks only that no value shows
	}{
		{name: "get configmaps", run: func(out, errOut *bytes.Buffer) error {
			return runGet(ctx, c, out, errOut, resConfigMaps, "", getOptions{ns: namespaceFlags{namespace: "default"}}, t0)
		}, want: "NAME   DATA   AGE\napp    3      <unknown>\n"},
		{name: "get secrets -A", run: func(out, errOut *bytes.Buffer) error {
			return runGet(ctx, c, out, errOut, resSecrets, "", getOptions{ns: namespaceFlags{all: true}}, t0)
		}, want: "NAMESPACE   NAME   TYPE                       DATA   AGE\nops         db     kubernetes.io/basic-auth   2      <unknown>\n"},
		{name: "get secret -o yaml", run: func(out, errOut *bytes.Buffer) error {
			return runGet(ctx, c, out, errOut, resSecrets, "db", getOptions{ns: namespaceFlags{namespace: "ops"}, output: "yaml"}, t0)
		}},
		{name: "get secrets -o json", run: func(out, errOut *bytes.Buffer) error {
			return runGet(ctx, c, out, errOut, resSecrets, "", getOptions{ns: namespaceFlags{all: true}, output: "json"}, t0)
		}},
		{name: "describe secret", run: func(out, _ *bytes.Buffer) error {
			return runDescribe(ctx, c, out, resSecrets, "ops", "db", t0, time.UTC)
		}, want: `Name:         db
Namespace:    ops
Labels:       <none>
Annotations:  <none>

Type:  kubernetes.io/basic-auth

Data
====
password:  19 bytes
username:  5 bytes

Events:  <none>
`},
		{name: "describe configmap", run: func(out, _ *bytes.Buffer) error {
			return runDescribe(ctx, c, out, resConfigMaps, "default", "app", t0, time.UTC)
		}, want: `Name:         app
Namespace:    default
Labels:       <none>
Annotations:  <none>

Data
====
greeting:
----
hello

mode:
----
fast


BinaryData
====
logo: 3 bytes

Events:  <none>
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := tc.run(&out, &errOut); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out.String(), "hunter2") {
				t.Fatalf("the secret's value shows:\n%s", out.String())
			}
			if tc.want != "" && out.String() != tc.want {
				t.Fatalf("got:\n%s\nwant:\n%s", out.String(), tc.want)
			}
		})
	}
	if _, err := parseResource("cm"); err != nil {
		t.Errorf("cm: %v", err)
	}
}
