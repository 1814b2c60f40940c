package manifest

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"

	corev1 "k8s.io/api/core/v1"
)

// pod wraps container fields (indented for a container item) and pod
// fields into a Pod document; the container starts at line 6.
func pod(podFields, containerFields string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n" + podFields + "  containers:\n  - name: c\n    image: i\n" + containerFields
}

// checkErrors decodes doc and wants exactly the given error prefixes.
func checkErrors(t *testing.T, doc string, want []string) []Object {
	t.Helper()
	objs, errs := DecodeFile("f.yaml", []byte(doc))
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("error %d:\n got %s\nwant prefix %s", i, errs[i], w)
		}
		if strings.Contains(errs[i].Error(), "hunter2") {
			t.Errorf("error %d shows a secret value: %s", i, errs[i])
		}
	}
	return objs
}

func TestConfigKinds(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{name: "configmap", yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a.conf: x}\nbinaryData: {b: eA==}\nimmutable: true\n"},
		{name: "configmap bad key", yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata:\n  a/b: x\n",
			want: []string{`f.yaml:5: data[a/b]: Invalid value: "a/b": a valid config key must consist of alphanumeric characters`}},
		{name: "configmap key in data and binaryData", yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata:\n  k: x\nbinaryData:\n  k: eA==\n",
			want: []string{`f.yaml:5: data[k]: Invalid value: "k": duplicate of key present in binaryData`}},
		{name: "configmap unknown field", yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndatas: {a: b}\n",
			want: []string{"f.yaml:4: datas: unknown field"}},
		{name: "opaque secret", yaml: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: hunter2}\n"},
		{name: "tls secret without key", yaml: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: eA==\n",
			want: []string{"f.yaml:5: data[tls.key]: Required value"}},
		{name: "basic auth without either", yaml: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/basic-auth\ndata: {}\n",
			want: []string{"f.yaml:5: data[password]: Required value", "f.yaml:5: data[username]: Required value"}},
		{name: "dockerconfigjson not JSON", yaml: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: 'not json at all'\n",
			want: []string{`f.yaml:1: data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": invalid JSON`}},
		{name: "service account token", yaml: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/service-account-token\n",
			want: []string{"f.yaml:4: type: Forbidden: not supported by berth"}},
		{name: "secret data not base64", yaml: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  k: 'hunter2!!'\n",
			want: []string{"f.yaml:"}},
		{name: "namespace", yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"},
		{name: "namespace with a namespace", yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, namespace: x}\n",
			want: []string{"f.yaml:3: metadata.namespace: Forbidden: not allowed on this type"}},
		{name: "namespace bad name", yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: Shop.x}\n",
			want: []string{`f.yaml:3: metadata.name: Invalid value: "Shop.x": a lowercase RFC 1123 label`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := checkErrors(t, tt.yaml, tt.want)
			if len(tt.want) == 0 && len(objs) != 1 {
				t.Fatalf("want one object, got %d", len(objs))
			}
		})
	}
}

func TestConfigKindDefaults(t *testing.T) {
	objs, errs := DecodeFile("f.yaml", []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: eA==}\nstringData: {a: why, b: zed}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"))
	if errs != nil {
		t.Fatal(errs)
	}
	s := objs[0].Secret
	if s.Type != corev1.SecretTypeOpaque || s.ObjectMeta.Namespace != "default" || string(s.Data["a"]) != "why" || string(s.Data["b"]) != "zed" {
		t.Errorf("secret defaults: type %q namespace %q data %v", s.Type, s.ObjectMeta.Namespace, s.Data)
	}
	if len(objs[0].Warnings) != 1 || !strings.Contains(objs[0].Warnings[0].Error(), "f.yaml:4: data: this Secret's values are in Git in clear text") {
		t.Errorf("plain secret warning: %v", objs[0].Warnings)
	}
	ns := objs[1]
	if ns.Namespace != "" || ns.Key() != (Key{Kind: KindNamespace, Name: "shop"}) || ns.NamespaceObject.Labels[corev1.LabelMetadataName] != "shop" {
		t.Errorf("namespace: key %v labels %v", ns.Key(), ns.NamespaceObject.Labels)
	}
}

func TestSecretDataNeverPrinted(t *testing.T) {
	d := SecretData{"password": []byte("hunter2"), "user": []byte("bob")}
	s := &Secret{Data: d}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "data", d, "secret", s)
	for _, out := range []string{fmt.Sprint(d), fmt.Sprintf("%v %+v %#v %s %q %x", d, d, d, d, d, d), fmt.Sprintf("%+v %#v", *s, s), logged.String()} {
		if strings.Contains(out, "hunter2") || strings.Contains(out, "68756e74657232") {
			t.Errorf("value printed: %s", out)
		}
	}
	if got := d.String(); got != "{password: 7 bytes, user: 3 bytes}" {
		t.Errorf("String() = %q", got)
	}
}

func TestPodFields(t *testing.T) {
	tests := []struct {
		name      string
		podFields string
		container string
		want      []string
	}{
		{name: "env from configmap, secret, field and resource",
			container: "    env:\n    - {name: A, valueFrom: {configMapKeyRef: {name: cfg, key: a, optional: true}}}\n    - {name: B, valueFrom: {secretKeyRef: {name: s, key: b, optional: true}}}\n    - {name: C, valueFrom: {fieldRef: {fieldPath: \"metadata.labels['app']\"}}}\n    - {name: D, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}\n"},
		{name: "env value and valueFrom",
			container: "    env:\n    - {name: A, value: x, valueFrom: {fieldRef: {fieldPath: metadata.name}}}\n",
			want:      []string{"f.yaml:9: spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty"}},
		{name: "env two sources",
			container: "    env:\n    - name: A\n      valueFrom:\n        fieldRef: {fieldPath: metadata.name}\n        configMapKeyRef: {name: c, key: k, optional: true}\n",
			want:      []string{"f.yaml:10: spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not have more than one field specified at a time"}},
		{name: "env bad fieldPath",
			container: "    env:\n    - name: A\n      valueFrom: {fieldRef: {fieldPath: spec.hostname}}\n",
			want:      []string{`f.yaml:10: spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.hostname": supported values: "metadata.name"`}},
		{name: "env bad divisor",
			container: "    env:\n    - name: A\n      valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 3m}}\n",
			want:      []string{`f.yaml:10: spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor: Invalid value: "3m": only divisor's values 1m and 1 are supported with the cpu resource`}},
		{name: "envFrom with prefix",
			container: "    envFrom:\n    - {prefix: APP_, configMapRef: {name: cfg, optional: true}}\n    - secretRef: {name: s, optional: true}\n"},
		{name: "envFrom without a source",
			container: "    envFrom:\n    - prefix: APP_\n",
			want:      []string{"f.yaml:9: spec.containers[0].envFrom[0]: Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`"}},
		{name: "configMap, secret, downwardAPI and projected volumes",
			podFields: "  volumes:\n  - {name: a, configMap: {name: cfg, defaultMode: 0400, optional: true, items: [{key: k, path: dir/k, mode: 0600}]}}\n  - {name: b, secret: {secretName: s, optional: true}}\n  - {name: c, downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}, {path: mem, resourceFieldRef: {containerName: c, resource: limits.memory}}]}}\n  - name: d\n    projected:\n      sources:\n      - configMap: {name: cfg, optional: true, items: [{key: k, path: k}]}\n      - secret: {name: s, optional: true}\n      - downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}]}\n"},
		{name: "volume item escapes",
			podFields: "  volumes:\n  - name: a\n    configMap: {name: cfg, optional: true, items: [{key: k, path: ../k}, {key: l, path: ..data}]}\n",
			want:      []string{`f.yaml:7: spec.volumes[0].configMap.items[0].path: Invalid value: "../k": must not contain '..'`, `f.yaml:7: spec.volumes[0].configMap.items[1].path: Invalid value: "..data": must not start with '..'`}},
		{name: "defaultMode too large",
			podFields: "  volumes:\n  - name: a\n    secret: {secretName: s, optional: true, defaultMode: 01000}\n",
			want:      []string{"f.yaml:7: spec.volumes[0].secret.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive"}},
		{name: "two volume types",
			podFields: "  volumes:\n  - name: a\n    emptyDir: {}\n    configMap: {name: cfg, optional: true}\n",
			want:      []string{"f.yaml:6: spec.volumes[0]: Forbidden: may not specify more than 1 volume type"}},
		{name: "projected duplicate paths",
			podFields: "  volumes:\n  - name: d\n    projected:\n      sources:\n      - configMap: {name: a, optional: true, items: [{key: k, path: k}]}\n      - configMap: {name: b, optional: true, items: [{key: k, path: k}]}\n",
			want:      []string{`f.yaml:10: spec.volumes[0].projected.sources[1].configMap.items[0].path: Invalid value: "k": conflicting duplicate paths`}},
		{name: "projected service account token refused",
			podFields: "  volumes:\n  - name: d\n    projected:\n      sources:\n      - serviceAccountToken: {path: token}\n",
			want:      []string{"f.yaml:9: spec.volumes[0].projected.sources[0].serviceAccountToken: not supported by berth"}},
		{name: "downwardAPI volume without containerName",
			podFields: "  volumes:\n  - name: c\n    downwardAPI: {items: [{path: mem, resourceFieldRef: {resource: limits.memory}}]}\n",
			want:      []string{"f.yaml:7: spec.volumes[0].downwardAPI.items[0].resourceFieldRef.containerName: Required value"}},
		{name: "hostIP", container: "    ports:\n    - {containerPort: 80, hostPort: 8080, hostIP: 198.18.0.1}\n"},
		{name: "bad hostIP", container: "    ports:\n    - {containerPort: 80, hostPort: 8080, hostIP: nowhere}\n",
			want: []string{`f.yaml:9: spec.containers[0].ports[0].hostIP: Invalid value: "nowhere": must be a valid IP address`}},
		{name: "probe grace period",
			container: "    livenessProbe:\n      exec: {command: [ok]}\n      terminationGracePeriodSeconds: 5\n"},
		{name: "probe grace period zero",
			container: "    startupProbe:\n      exec: {command: [ok]}\n      terminationGracePeriodSeconds: 0\n",
			want:      []string{"f.yaml:10: spec.containers[0].startupProbe.terminationGracePeriodSeconds: Invalid value: 0: must be greater than 0"}},
		{name: "readiness probe grace period",
			container: "    readinessProbe:\n      exec: {command: [ok]}\n      terminationGracePeriodSeconds: 5\n",
			want:      []string{"f.yaml:10: spec.containers[0].readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: must not be set for readinessProbes"}},
		{name: "termination message", container: "    terminationMessagePath: /tmp/done\n    terminationMessagePolicy: FallbackToLogsOnError\n"},
		{name: "termination message policy", container: "    terminationMessagePolicy: Sometimes\n",
			want: []string{`f.yaml:8: spec.containers[0].terminationMessagePolicy: Unsupported value: "Sometimes": supported values: "File", "FallbackToLogsOnError"`}},
		{name: "service account, links, DNS",
			podFields: "  serviceAccountName: web\n  automountServiceAccountToken: false\n  enableServiceLinks: false\n  dnsPolicy: None\n  dnsConfig:\n    nameservers: [198.18.0.10]\n    searches: [svc.cluster.local]\n    options: [{name: ndots, value: '2'}]\n"},
		{name: "dnsPolicy None without dnsConfig", podFields: "  dnsPolicy: None\n",
			want: []string{"f.yaml:4: spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"}},
		{name: "ClusterFirstWithHostNet", podFields: "  dnsPolicy: ClusterFirstWithHostNet\n",
			want: []string{"f.yaml:5: spec.dnsPolicy: Forbidden: not supported by berth: ClusterFirstWithHostNet is for hostNetwork pods"}},
		{name: "too many nameservers", podFields: "  dnsConfig: {nameservers: [198.18.0.1, 198.18.0.2, 198.18.0.3, 198.18.0.4]}\n",
			want: []string{"f.yaml:5: spec.dnsConfig.nameservers: Invalid value"}},
		{name: "pod securityContext",
			podFields: "  securityContext:\n    runAsUser: 1000\n    runAsGroup: 1000\n    runAsNonRoot: true\n    fsGroup: 2000\n    supplementalGroups: [3000]\n    seccompProfile: {type: RuntimeDefault}\n    sysctls: [{name: net.ipv4.tcp_syncookies, value: '1'}, {name: kernel/shm_rmid_forced, value: '1'}]\n"},
		{name: "unsafe sysctl", podFields: "  securityContext:\n    sysctls: [{name: kernel.msgmax, value: '1'}]\n",
			want: []string{`f.yaml:6: spec.securityContext.sysctls[0].name: Forbidden: not supported by berth: "kernel.msgmax" is not one of the kubelet's safe sysctls`}},
		{name: "negative runAsUser", podFields: "  securityContext: {runAsUser: -1}\n",
			want: []string{"f.yaml:5: spec.securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive"}},
		{name: "Localhost seccomp", podFields: "  securityContext:\n    seccompProfile: {type: Localhost}\n",
			want: []string{"f.yaml:6: spec.securityContext.seccompProfile.type: Forbidden: not supported by berth: Localhost profiles"}},
		{name: "seLinuxOptions refused by name", podFields: "  securityContext:\n    seLinuxOptions: {level: 's0:c1'}\n",
			want: []string{"f.yaml:6: spec.securityContext.seLinuxOptions: not supported by berth"}},
		{name: "fsGroupChangePolicy refused by name", podFields: "  securityContext:\n    fsGroupChangePolicy: OnRootMismatch\n",
			want: []string{"f.yaml:6: spec.securityContext.fsGroupChangePolicy: not supported by berth"}},
		{name: "container securityContext",
			container: "    securityContext:\n      runAsUser: 1000\n      runAsNonRoot: true\n      readOnlyRootFilesystem: true\n      allowPrivilegeEscalation: false\n      capabilities: {drop: [ALL], add: [NET_BIND_SERVICE, CAP_CHOWN]}\n      seccompProfile: {type: Unconfined}\n"},
		{name: "privileged without escalation",
			container: "    securityContext: {privileged: true, allowPrivilegeEscalation: false}\n",
			want:      []string{"f.yaml:8: spec.containers[0].securityContext: Invalid value: \"\": cannot set `allowPrivilegeEscalation` to false and `privileged` to true"}},
		{name: "unknown capability",
			container: "    securityContext: {capabilities: {add: [FLY]}}\n",
			want:      []string{`f.yaml:8: spec.containers[0].securityContext.capabilities.add[0]: Invalid value: "FLY": not a Linux capability`}},
		{name: "procMount refused by name",
			container: "    securityContext: {procMount: Unmasked}\n",
			want:      []string{"f.yaml:8: spec.containers[0].securityContext.procMount: not supported by berth"}},
		{name: "appArmorProfile refused by name",
			container: "    securityContext: {appArmorProfile: {type: RuntimeDefault}}\n",
			want:      []string{"f.yaml:8: spec.containers[0].securityContext.appArmorProfile: not supported by berth"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErrors(t, pod(tt.podFields, tt.container), tt.want)
		})
	}
}

func TestAppArmorAnnotationRefused(t *testing.T) {
	doc := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: hello-apparmor\n  annotations:\n    container.apparmor.security.beta.kubernetes.io/hello: localhost/k8s-apparmor-example-deny-write\nspec:\n  containers: [{name: hello, image: busybox}]\n"
	checkErrors(t, doc, []string{"f.yaml:6: metadata.annotations[container.apparmor.security.beta.kubernetes.io/hello]: Forbidden: not supported by berth: AppArmor profiles are not enforced"})
}

func TestTemplateMetaAndRevisionHistory(t *testing.T) {
	doc := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  revisionHistoryLimit: 3\n  selector: {matchLabels: {app: d}}\n  template:\n    metadata: {name: ignored, namespace: ignored, labels: {app: d}}\n    spec: {containers: [{name: c, image: i}]}\n"
	checkErrors(t, doc, nil)
}

func TestGenerateName(t *testing.T) {
	doc := "apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: pi-}\nspec: {template: {spec: {containers: [{name: c, image: i}]}}}\n---\napiVersion: batch/v1\nkind: Job\nmetadata: {generateName: pi-}\nspec: {template: {spec: {containers: [{name: c, image: i}]}}}\n"
	objs := checkErrors(t, doc, nil)
	again := checkErrors(t, doc, nil)
	if len(objs) != 2 || !strings.HasPrefix(objs[0].Name, "pi-") || len(objs[0].Name) != 8 {
		t.Fatalf("names: %v", objs)
	}
	if objs[0].Name == objs[1].Name {
		t.Errorf("two documents got the same name %s", objs[0].Name)
	}
	if objs[0].Name != again[0].Name {
		t.Errorf("name is not stable: %s then %s", objs[0].Name, again[0].Name)
	}
	checkErrors(t, "apiVersion: v1\nkind: Pod\nmetadata: {generateName: Bad_}\nspec: {containers: [{name: c, image: i}]}\n",
		[]string{`f.yaml:3: metadata.generateName: Invalid value: "Bad_"`, `f.yaml:3: metadata.name: Invalid value: "Bad_`})
}

func TestMissingReferences(t *testing.T) {
	tree := fstest.MapFS{
		"cfg.yaml": {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: shop}\ndata: {a: b}\n")},
		"web.yaml": {Data: []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: i
        env:
        - {name: A, valueFrom: {configMapKeyRef: {name: cfg, key: a}}}
        - {name: B, valueFrom: {secretKeyRef: {name: creds, key: b}}}
        - {name: C, valueFrom: {secretKeyRef: {name: maybe, key: c, optional: true}}}
        envFrom:
        - configMapRef: {name: other}
      volumes:
      - name: v
        projected:
          sources:
          - secret: {name: tls}
`)},
	}
	_, err := Load(tree, ".")
	want := "web.yaml:14: spec.template.spec.containers[0].env[1].valueFrom.secretKeyRef.name: Deployment shop/web refers to Secret shop/creds, which is not in this revision (set optional: true if it may be missing)\n" +
		"web.yaml:17: spec.template.spec.containers[0].envFrom[0].configMapRef.name: Deployment shop/web refers to ConfigMap shop/other, which is not in this revision (set optional: true if it may be missing)\n" +
		"web.yaml:22: spec.template.spec.volumes[0].projected.sources[0].secret.name: Deployment shop/web refers to Secret shop/tls, which is not in this revision (set optional: true if it may be missing)"
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestImpliedNamespaces(t *testing.T) {
	objs, err := Load(fstest.MapFS{
		"a.yaml": {Data: []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: shop}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: tools}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")},
	}, ".")
	if err != nil {
		t.Fatal(err)
	}
	if got := ImpliedNamespaces(objs); len(got) != 1 || got[0] != "tools" {
		t.Errorf("implied = %v, want [tools]", got)
	}
}

// TestYAML11Scalars checks that plain scalars mean what they mean to
// kubectl (sigs.k8s.io/yaml, go-yaml v2, YAML 1.1).
func TestYAML11Scalars(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		want  []string
		check func(t *testing.T, o Object)
	}{
		{name: "readOnly: yes is true",
			doc: pod("  volumes: [{name: v, emptyDir: {}}]\n", "    volumeMounts: [{name: v, mountPath: /v, readOnly: yes}]\n"),
			check: func(t *testing.T, o Object) {
				if !o.Pod.Spec.Containers[0].VolumeMounts[0].ReadOnly {
					t.Error("readOnly: yes did not read as true")
				}
			}},
		{name: "suspend: off is false",
			doc: "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  schedule: '@hourly'\n  suspend: off\n  jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: i}]}}}}\n",
			check: func(t *testing.T, o Object) {
				if *o.CronJob.Spec.Suspend {
					t.Error("suspend: off did not read as false")
				}
			}},
		{name: "suspend: On is true",
			doc: "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  suspend: On\n  template: {spec: {containers: [{name: c, image: i}]}}\n",
			check: func(t *testing.T, o Object) {
				if !*o.Job.Spec.Suspend {
					t.Error("suspend: On did not read as true")
				}
			}},
		{name: "unquoted on as a label value is a type error",
			doc:  "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    feature: on\nspec: {containers: [{name: c, image: i}]}\n",
			want: []string{"f.yaml:5: metadata.labels: wrong type: expected a string, got bool"}},
		{name: "quoted on as a label value is a string",
			doc: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    feature: 'on'\nspec: {containers: [{name: c, image: i}]}\n",
			check: func(t *testing.T, o Object) {
				if o.Pod.Labels["feature"] != "on" {
					t.Errorf("label = %q", o.Pod.Labels["feature"])
				}
			}},
		{name: "octal defaultMode 0644 is 420",
			doc: pod("  volumes: [{name: v, configMap: {name: c, optional: true, defaultMode: 0644}}]\n", ""),
			check: func(t *testing.T, o Object) {
				if m := *o.Pod.Spec.Volumes[0].ConfigMap.DefaultMode; m != 0o644 {
					t.Errorf("defaultMode = %d", m)
				}
			}},
		{name: "underscores in an integer",
			doc: pod("  terminationGracePeriodSeconds: 1_000\n", ""),
			check: func(t *testing.T, o Object) {
				if g := *o.Pod.Spec.TerminationGracePeriodSeconds; g != 1000 {
					t.Errorf("grace = %d", g)
				}
			}},
		{name: "y is a boolean, not a string",
			doc:  pod("", "    env: [{name: A, value: y}]\n"),
			want: []string{"f.yaml:8: spec.containers.env.value: wrong type: expected a string, got bool"}},
		{name: "a date stays a string",
			doc: pod("", "    env: [{name: A, value: 2024-01-02}]\n"),
			check: func(t *testing.T, o Object) {
				if v := o.Pod.Spec.Containers[0].Env[0].Value; v != "2024-01-02" {
					t.Errorf("value = %q", v)
				}
			}},
		{name: "duplicate key stays an error",
			doc:  "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nmetadata: {name: q}\nspec: {containers: [{name: c, image: i}]}\n",
			want: []string{`f.yaml:4: metadata: duplicate key "metadata" (first set on line 3)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := checkErrors(t, tt.doc, tt.want)
			if tt.check != nil {
				if len(objs) != 1 {
					t.Fatalf("want one object, got %d", len(objs))
				}
				tt.check(t, objs[0])
			}
		})
	}
}

func TestVolumeAndEnvDefaults(t *testing.T) {
	objs := checkErrors(t, pod("  volumes:\n  - {name: a, configMap: {name: c, optional: true}}\n  - {name: b, secret: {secretName: s, optional: true, defaultMode: 0400}}\n  - {name: d, downwardAPI: {items: [{path: nm, fieldRef: {fieldPath: metadata.name}}]}}\n  - {name: e, projected: {sources: [{downwardAPI: {items: [{path: nm, fieldRef: {fieldPath: metadata.name}}]}}]}}\n",
		"    env: [{name: NM, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]\n"), nil)
	s := objs[0].Pod.Spec
	v := s.Volumes
	if *v[0].ConfigMap.DefaultMode != 0o644 || *v[1].Secret.DefaultMode != 0o400 || *v[2].DownwardAPI.DefaultMode != 0o644 || *v[3].Projected.DefaultMode != 0o644 {
		t.Errorf("default modes: %o %o %o %o", *v[0].ConfigMap.DefaultMode, *v[1].Secret.DefaultMode, *v[2].DownwardAPI.DefaultMode, *v[3].Projected.DefaultMode)
	}
	if v[2].DownwardAPI.Items[0].FieldRef.APIVersion != "v1" || v[3].Projected.Sources[0].DownwardAPI.Items[0].FieldRef.APIVersion != "v1" || s.Containers[0].Env[0].ValueFrom.FieldRef.APIVersion != "v1" {
		t.Error("fieldRef apiVersion not defaulted to v1")
	}
	if s.DNSPolicy != "" || s.Containers[0].TerminationMessagePath != "" {
		t.Error("defaults that would change every existing pod's template hash were applied")
	}
}

func TestTypeErrorPathHasNoGoNames(t *testing.T) {
	checkErrors(t, pod("  volumes: [{name: d, downwardAPI: {items: [{path: n, fieldRef: {fieldPath: metadata.name}}]}}]\n", ""),
		[]string{"f.yaml:5: spec.volumes.downwardAPI.items.path: wrong type: expected a string, got bool"})
}
