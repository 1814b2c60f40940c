package manifest

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const storageTree = `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: keep
provisioner: berth.dev/local
reclaimPolicy: Retain
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: cache
spec:
  accessModes: [ReadWriteOncePod]
  resources:
    requests:
      storage: 2Gi
---
apiVersion: v1
kind: Pod
metadata:
  name: user
spec:
  containers:
  - name: c
    image: busybox
    volumeMounts:
    - {name: cache, mountPath: /cache}
  volumes:
  - name: cache
    persistentVolumeClaim: {claimName: cache}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: c
        image: busybox
        volumeMounts:
        - {name: data, mountPath: /data}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      storageClassName: keep
      resources:
        requests:
          storage: 1Gi
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      nodeSelector: {disk: ssd}
      containers:
      - name: c
        image: busybox
`

func loadOne(t *testing.T, doc string) ([]Object, error) {
	t.Helper()
	return Load(fstest.MapFS{"s.yaml": {Data: []byte(doc)}}, ".")
}

func TestStorageKindsLoadWithDefaults(t *testing.T) {
	objs, err := loadOne(t, storageTree)
	if err != nil {
		t.Fatal(err)
	}
	by := map[Kind]*Object{}
	for i := range objs {
		by[objs[i].Kind] = &objs[i]
	}
	sc := by[KindStorageClass].StorageClass
	if by[KindStorageClass].Namespace != "" || *sc.ReclaimPolicy != corev1.PersistentVolumeReclaimRetain || *sc.VolumeBindingMode != "WaitForFirstConsumer" {
		t.Errorf("StorageClass %+v", sc)
	}
	pvc := by[KindPersistentVolumeClaim].PersistentVolumeClaim
	if *pvc.Spec.StorageClassName != DefaultStorageClass || *pvc.Spec.VolumeMode != corev1.PersistentVolumeFilesystem || pvc.Namespace != "default" {
		t.Errorf("claim defaults: %+v", pvc.Spec)
	}
	ss := by[KindStatefulSet].StatefulSet.Spec
	if *ss.Replicas != 3 || ss.PodManagementPolicy != appsv1.OrderedReadyPodManagement ||
		ss.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType ||
		*ss.UpdateStrategy.RollingUpdate.Partition != 0 || *ss.UpdateStrategy.RollingUpdate.MaxUnavailable != intstr.FromInt32(1) ||
		ss.PersistentVolumeClaimRetentionPolicy.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType ||
		*ss.VolumeClaimTemplates[0].Spec.StorageClassName != "keep" || ss.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("StatefulSet defaults: %+v", ss)
	}
	ds := by[KindDaemonSet].DaemonSet.Spec
	if ds.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType ||
		*ds.UpdateStrategy.RollingUpdate.MaxUnavailable != intstr.FromInt32(1) || *ds.UpdateStrategy.RollingUpdate.MaxSurge != intstr.FromInt32(0) {
		t.Errorf("DaemonSet defaults: %+v", ds.UpdateStrategy)
	}
	tpl := corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "d", Annotations: map[string]string{"volume.beta.kubernetes.io/storage-class": "fast"}}}
	if c := ClaimFromTemplate(&tpl, "default", "d-web-0"); *c.Spec.StorageClassName != "fast" {
		t.Errorf("a template's beta storage-class annotation gave class %q", *c.Spec.StorageClassName)
	}
	c := ClaimFromTemplate(&ss.VolumeClaimTemplates[0], "default", "data-web-0")
	if c.Name != "data-web-0" || c.Namespace != "default" || c.Kind != "PersistentVolumeClaim" {
		t.Errorf("ClaimFromTemplate: %+v", c.ObjectMeta)
	}
}

func TestStorageErrors(t *testing.T) {
	pod := func(claim string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: i}]\n  volumes:\n  - name: v\n    persistentVolumeClaim: {claimName: " + claim + "}\n"
	}
	claim := func(extra string) string {
		return "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n" + extra
	}
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{name: "a pod's claim must be in Git", yaml: pod("data"),
			want: `s.yaml:1: spec.volumes[0].persistentVolumeClaim.claimName: no PersistentVolumeClaim default/data in Git`},
		{name: "a claim in another namespace does not count", yaml: pod("data") + "---\n" + strings.Replace(claim(""), "name: data}", "name: data, namespace: other}", 1),
			want: `s.yaml:1: spec.volumes[0].persistentVolumeClaim.claimName: no PersistentVolumeClaim default/data in Git`},
		{name: "the beta storage-class annotation names the class", yaml: strings.Replace(claim(""), "metadata: {name: data}", "metadata: {name: data, annotations: {volume.beta.kubernetes.io/storage-class: fast}}", 1),
			want: `s.yaml:1: spec.storageClassName: storage class "fast" is neither the built-in local nor a StorageClass in Git`},
		{name: "an empty class is a static binding berth cannot do", yaml: claim("  storageClassName: \"\"\n"),
			want: `s.yaml:7: spec.storageClassName: Invalid value: "": berth has no pre-made volumes`},
		{name: "storage classes are cluster-scoped", yaml: "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: x, namespace: default}\nprovisioner: berth.dev/local\n",
			want: `s.yaml:3: metadata.namespace: Forbidden: a StorageClass is cluster-scoped`},
		{name: "Immediate binding is refused", yaml: "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: x}\nprovisioner: berth.dev/local\nvolumeBindingMode: Immediate\n",
			want: `s.yaml:5: volumeBindingMode: Unsupported value: "Immediate"`},
		{name: "other provisioners are refused by name", yaml: "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: x}\nprovisioner: ebs.csi.aws.com\n",
			want: `s.yaml:4: provisioner: Unsupported value: "ebs.csi.aws.com": supported values: "berth.dev/local", "k8s.io/minikube-hostpath", "rancher.io/local-path"`},
		{name: "local-path's parameters name paths berth does not use", yaml: "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: x}\nprovisioner: rancher.io/local-path\nparameters: {nodePath: /mnt}\n",
			want: `s.yaml:5: parameters: Forbidden: berth's local provisioner takes no parameters`},
		{name: "berth's own provisioner takes no parameters", yaml: "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: x}\nprovisioner: berth.dev/local\nparameters: {type: ssd}\n",
			want: `s.yaml:5: parameters: Forbidden`},
		{name: "a claim volume and emptyDir at once", yaml: "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: i}]\n  volumes:\n  - name: v\n    emptyDir: {}\n    persistentVolumeClaim: {claimName: x}\n",
			want: `s.yaml:7: spec.volumes[0]: Forbidden: may not specify more than 1 volume type`},
		{name: "StatefulSet maxUnavailable 0", yaml: "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec:\n  selector: {matchLabels: {a: b}}\n  updateStrategy: {rollingUpdate: {maxUnavailable: 0}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c, image: i}]}\n",
			want: `s.yaml:6: spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "0": must be greater than 0`},
		{name: "StatefulSet name must be a DNS label", yaml: "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s.x}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c, image: i}]}\n",
			want: `s.yaml:3: metadata.name: Invalid value: "s.x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadOne(t, tc.yaml)
			var errs ErrorList
			if !errors.As(err, &errs) {
				t.Fatalf("want ErrorList, got %v", err)
			}
			if !strings.Contains(errs.Error(), tc.want) {
				t.Errorf("errors:\n%s\nwant one starting %q", errs.Error(), tc.want)
			}
		})
	}
}

// A StorageClass written for minikube (the cassandra example of
// kubernetes/examples) is a directory on the node, as there: accepted and
// provisioned by berth.dev/local, its parameters ignored with a warning,
// as minikube's provisioner ignores them.
func TestHostPathProvisionersAreLocal(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, warning string
	}{
		{name: "minikube's, with parameters it ignores",
			yaml:    "kind: StorageClass\napiVersion: storage.k8s.io/v1\nmetadata:\n  name: fast\nprovisioner: k8s.io/minikube-hostpath\nparameters:\n  type: pd-ssd\n",
			warning: `s.yaml:6: parameters: ignored: minikube's hostpath provisioner reads no parameters`},
		{name: "k3s' local-path", yaml: "kind: StorageClass\napiVersion: storage.k8s.io/v1\nmetadata:\n  name: lp\nprovisioner: rancher.io/local-path\nreclaimPolicy: Retain\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := loadOne(t, tc.yaml)
			if err != nil {
				t.Fatal(err)
			}
			var warnings []string
			for _, w := range Warnings(objs) {
				warnings = append(warnings, w.Error())
			}
			got := strings.Join(warnings, "\n")
			if tc.warning == "" && got != "" || !strings.Contains(got, tc.warning) {
				t.Errorf("warnings %q, want %q", got, tc.warning)
			}
		})
	}
}
