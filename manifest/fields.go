package manifest

import (
	"fmt"
	"sort"
	"strings"

	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// Field is one row of the table of what berth implements. Path is relative
// to Group; "[]" stands for every item of a list and "*" for every key of a
// free-form map. Ref, when set, says that the value at Path has the fields of
// another group (a pod template's spec is a PodSpec).
type Field struct {
	Group string
	Path  string
	Ref   string
	Note  string
}

// Supported is the whole subset of Kubernetes that berth reads. A field
// that is set (not null, not empty) and not listed here is an error naming
// it, so nothing in Git is silently ignored. The README's table is printed
// from this slice by `berth validate --fields`.
var Supported = []Field{
	{Group: "Object", Path: "apiVersion", Note: "v1 (Pod, Service, ConfigMap, Secret, Namespace, PersistentVolumeClaim), apps/v1 (Deployment, StatefulSet, DaemonSet), batch/v1 (Job, CronJob), storage.k8s.io/v1 (StorageClass)"},
	{Group: "Object", Path: "kind", Note: "Pod, Deployment, StatefulSet, DaemonSet, Job, CronJob, Service, ConfigMap, Secret, Namespace, PersistentVolumeClaim, StorageClass"},
	{Group: "Object", Path: "metadata", Ref: "ObjectMeta"},
	{Group: "ObjectMeta", Path: "name", Note: "required; RFC 1123 (CronJob at most 52 characters, Job at most 63)"},
	{Group: "ObjectMeta", Path: "generateName", Note: "without name: the name is the prefix and 5 characters derived from the file and the document's place in it, so it stays the same from one revision to the next"},
	{Group: "ObjectMeta", Path: "namespace", Note: "default: default; a namespace no Namespace object declares is accepted and listed by berth validate as implied"},
	{Group: "ObjectMeta", Path: "labels.*"},
	{Group: "ObjectMeta", Path: "annotations.*", Note: "berth.dev/gang and berth.dev/gang-min place pods all-or-nothing; the AppArmor annotation is refused (not enforced)"},

	{Group: "ConfigMap", Path: "data.*", Note: "keys as Kubernetes allows; 1 MiB in all"},
	{Group: "ConfigMap", Path: "binaryData.*"},
	{Group: "ConfigMap", Path: "immutable"},
	{Group: "Secret", Path: "type", Note: "Opaque (default), kubernetes.io/tls, basic-auth, ssh-auth, dockercfg, dockerconfigjson or a type of your own; not service-account-token"},
	{Group: "Secret", Path: "data.*", Note: "SOPS-encrypted with age (see Secrets in Git); in clear text: accepted with a warning"},
	{Group: "Secret", Path: "stringData.*", Note: "merged into data, as the API server does"},
	{Group: "Secret", Path: "immutable"},

	{Group: "Pod", Path: "spec", Ref: "PodSpec"},
	{Group: "Deployment", Path: "spec.replicas", Note: "default 1"},
	{Group: "Deployment", Path: "spec.selector", Ref: "LabelSelector", Note: "required; must match the template's labels"},
	{Group: "Deployment", Path: "spec.template.metadata", Ref: "TemplateMeta"},
	{Group: "Deployment", Path: "spec.template.spec", Ref: "PodSpec", Note: "restartPolicy Always only"},
	{Group: "Deployment", Path: "spec.strategy.type", Note: "RollingUpdate (default) or Recreate"},
	{Group: "Deployment", Path: "spec.strategy.rollingUpdate.maxSurge", Note: "default 25%"},
	{Group: "Deployment", Path: "spec.strategy.rollingUpdate.maxUnavailable", Note: "default 25%"},
	{Group: "Deployment", Path: "spec.minReadySeconds"},
	{Group: "Deployment", Path: "spec.revisionHistoryLimit", Note: "accepted and unused: berth keeps no old ReplicaSets; roll back with git revert"},
	{Group: "Deployment", Path: "spec.progressDeadlineSeconds", Note: "default 600"},
	{Group: "Job", Path: "spec", Ref: "JobSpec"},
	{Group: "CronJob", Path: "spec.schedule", Note: "five fields or @hourly-style macros; no TZ="},
	{Group: "CronJob", Path: "spec.timeZone", Note: "IANA zone; default: the server's zone"},
	{Group: "CronJob", Path: "spec.concurrencyPolicy", Note: "Allow (default), Forbid, Replace"},
	{Group: "CronJob", Path: "spec.suspend"},
	{Group: "CronJob", Path: "spec.startingDeadlineSeconds"},
	{Group: "CronJob", Path: "spec.successfulJobsHistoryLimit", Note: "default 3"},
	{Group: "CronJob", Path: "spec.failedJobsHistoryLimit", Note: "default 1"},
	{Group: "CronJob", Path: "spec.jobTemplate.metadata", Ref: "TemplateMeta"},
	{Group: "CronJob", Path: "spec.jobTemplate.spec", Ref: "JobSpec"},

	{Group: "Service", Path: "spec.type", Note: "ClusterIP (default) or NodePort"},
	{Group: "Service", Path: "spec.clusterIP", Note: "allocated from --service-cidr when empty; None makes a headless Service; a written address is kept when free"},
	{Group: "Service", Path: "spec.selector.*", Note: "without a selector a Service has no endpoints: berth has no manually written Endpoints yet"},
	{Group: "Service", Path: "spec.ports[].name", Note: "required when there are several ports; names SRV records"},
	{Group: "Service", Path: "spec.ports[].port"},
	{Group: "Service", Path: "spec.ports[].targetPort", Note: "a number or a container port's name, resolved per pod; default: port"},
	{Group: "Service", Path: "spec.ports[].protocol", Note: "TCP (default), UDP"},
	{Group: "Service", Path: "spec.ports[].nodePort", Note: "NodePort only; 30000-32767, allocated when empty, a written one is kept when free"},
	{Group: "Service", Path: "spec.sessionAffinity", Note: "None (default) or ClientIP"},
	{Group: "Service", Path: "spec.sessionAffinityConfig.clientIP.timeoutSeconds", Note: "default 10800"},
	{Group: "Service", Path: "spec.publishNotReadyAddresses", Note: "pods count as endpoints before they are ready"},
	{Group: "StatefulSet", Path: "spec.replicas", Note: "default 1; pods <name>-0 … <name>-N-1"},
	{Group: "StatefulSet", Path: "spec.selector", Ref: "LabelSelector", Note: "required; must match the template's labels"},
	{Group: "StatefulSet", Path: "spec.serviceName", Note: "the headless Service giving each pod its DNS name"},
	{Group: "StatefulSet", Path: "spec.template.metadata", Ref: "TemplateMeta"},
	{Group: "StatefulSet", Path: "spec.template.spec", Ref: "PodSpec", Note: "restartPolicy Always only; mounts may name a claim template"},
	{Group: "StatefulSet", Path: "spec.podManagementPolicy", Note: "OrderedReady (default) or Parallel"},
	{Group: "StatefulSet", Path: "spec.updateStrategy.type", Note: "RollingUpdate (default, highest ordinal first) or OnDelete"},
	{Group: "StatefulSet", Path: "spec.updateStrategy.rollingUpdate.partition", Note: "default 0"},
	{Group: "StatefulSet", Path: "spec.updateStrategy.rollingUpdate.maxUnavailable", Note: "default 1"},
	{Group: "StatefulSet", Path: "spec.minReadySeconds"},
	{Group: "StatefulSet", Path: "spec.volumeClaimTemplates[]", Ref: "ClaimTemplate", Note: "one claim <template>-<pod> per pod, kept when scaled down"},
	{Group: "StatefulSet", Path: "spec.persistentVolumeClaimRetentionPolicy.whenDeleted", Note: "Retain (default) or Delete"},
	{Group: "StatefulSet", Path: "spec.persistentVolumeClaimRetentionPolicy.whenScaled", Note: "Retain (default) or Delete"},
	{Group: "DaemonSet", Path: "spec.selector", Ref: "LabelSelector", Note: "required; must match the template's labels"},
	{Group: "DaemonSet", Path: "spec.template.metadata", Ref: "TemplateMeta"},
	{Group: "DaemonSet", Path: "spec.template.spec", Ref: "PodSpec", Note: "restartPolicy Always only; one pod per node matching nodeSelector and tolerations"},
	{Group: "DaemonSet", Path: "spec.updateStrategy.type", Note: "RollingUpdate (default) or OnDelete"},
	{Group: "DaemonSet", Path: "spec.updateStrategy.rollingUpdate.maxUnavailable", Note: "default 1"},
	{Group: "DaemonSet", Path: "spec.updateStrategy.rollingUpdate.maxSurge", Note: "default 0; needs maxUnavailable: 0"},
	{Group: "DaemonSet", Path: "spec.minReadySeconds"},
	{Group: "PersistentVolumeClaim", Path: "spec", Ref: "ClaimSpec", Note: "a directory on the node of its first pod; its pods go to that node only (pending while it is NotReady)"},
	{Group: "StorageClass", Path: "provisioner", Note: "berth.dev/local (a directory under the agent's --storage-dir); k8s.io/minikube-hostpath and rancher.io/local-path do the same and are provisioned by it"},
	{Group: "StorageClass", Path: "parameters.*", Note: "k8s.io/minikube-hostpath only, ignored as it ignores them (a warning)"},
	{Group: "StorageClass", Path: "reclaimPolicy", Note: "Delete (default: a claim that leaves Git has its directory removed once no pod uses it) or Retain (the directory stays, the claim shows Released)"},
	{Group: "StorageClass", Path: "volumeBindingMode", Note: "WaitForFirstConsumer (the only mode)"},
	{Group: "ClaimTemplate", Path: "metadata.name", Note: "required"},
	{Group: "ClaimTemplate", Path: "metadata.labels.*"},
	{Group: "ClaimTemplate", Path: "metadata.annotations.*"},
	{Group: "ClaimTemplate", Path: "spec", Ref: "ClaimSpec"},
	{Group: "ClaimSpec", Path: "accessModes[]", Note: "ReadWriteOnce or ReadWriteOncePod"},
	{Group: "ClaimSpec", Path: "resources.requests.*", Note: "storage only, required; placed only on a node with that much room"},
	{Group: "ClaimSpec", Path: "storageClassName", Note: "default: local (built in)"},
	{Group: "ClaimSpec", Path: "volumeMode", Note: "Filesystem only"},

	{Group: "JobSpec", Path: "completions", Note: "unset with parallelism set: a work queue"},
	{Group: "JobSpec", Path: "parallelism", Note: "default 1"},
	{Group: "JobSpec", Path: "completionMode", Note: "NonIndexed (default) or Indexed"},
	{Group: "JobSpec", Path: "backoffLimit", Note: "default 6"},
	{Group: "JobSpec", Path: "backoffLimitPerIndex", Note: "Indexed jobs only"},
	{Group: "JobSpec", Path: "activeDeadlineSeconds"},
	{Group: "JobSpec", Path: "ttlSecondsAfterFinished"},
	{Group: "JobSpec", Path: "suspend"},
	{Group: "JobSpec", Path: "podFailurePolicy.rules[].action", Note: "FailJob, Ignore, Count (FailIndex with backoffLimitPerIndex)"},
	{Group: "JobSpec", Path: "podFailurePolicy.rules[].onExitCodes.containerName"},
	{Group: "JobSpec", Path: "podFailurePolicy.rules[].onExitCodes.operator", Note: "In, NotIn"},
	{Group: "JobSpec", Path: "podFailurePolicy.rules[].onExitCodes.values[]"},
	{Group: "JobSpec", Path: "template.metadata", Ref: "TemplateMeta"},
	{Group: "JobSpec", Path: "template.spec", Ref: "PodSpec", Note: "restartPolicy OnFailure or Never (default Never)"},

	{Group: "TemplateMeta", Path: "name", Note: "accepted and ignored, as Kubernetes does"},
	{Group: "TemplateMeta", Path: "namespace", Note: "accepted and ignored, as Kubernetes does"},
	{Group: "TemplateMeta", Path: "labels.*"},
	{Group: "TemplateMeta", Path: "annotations.*", Note: "the AppArmor annotation is refused (not enforced)"},
	{Group: "LabelSelector", Path: "matchLabels.*"},
	{Group: "LabelSelector", Path: "matchExpressions[].key"},
	{Group: "LabelSelector", Path: "matchExpressions[].operator", Note: "In, NotIn, Exists, DoesNotExist"},
	{Group: "LabelSelector", Path: "matchExpressions[].values[]"},

	{Group: "PodSpec", Path: "containers[]", Ref: "Container", Note: "at least one"},
	{Group: "PodSpec", Path: "initContainers[]", Ref: "Container", Note: "run in order; restartPolicy: Always makes a sidecar"},
	{Group: "PodSpec", Path: "volumes[].name"},
	{Group: "PodSpec", Path: "volumes[].emptyDir.medium", Note: `"" (disk) or Memory (tmpfs)`},
	{Group: "PodSpec", Path: "volumes[].emptyDir.sizeLimit", Note: "on disk: the pod is evicted when the volume grows past it, as the kubelet does; Memory: the tmpfs size"},
	{Group: "PodSpec", Path: "volumes[].configMap.name", Note: "must exist in the revision unless optional"},
	{Group: "PodSpec", Path: "volumes[].configMap.items[]", Ref: "KeyToPath"},
	{Group: "PodSpec", Path: "volumes[].configMap.defaultMode", Note: "default 0644"},
	{Group: "PodSpec", Path: "volumes[].configMap.optional"},
	{Group: "PodSpec", Path: "volumes[].secret.secretName", Note: "must exist in the revision unless optional; files on tmpfs only"},
	{Group: "PodSpec", Path: "volumes[].secret.items[]", Ref: "KeyToPath"},
	{Group: "PodSpec", Path: "volumes[].secret.defaultMode", Note: "default 0644"},
	{Group: "PodSpec", Path: "volumes[].secret.optional"},
	{Group: "PodSpec", Path: "volumes[].downwardAPI.items[]", Ref: "DownwardAPIFile"},
	{Group: "PodSpec", Path: "volumes[].downwardAPI.defaultMode", Note: "default 0644"},
	{Group: "PodSpec", Path: "volumes[].projected.defaultMode", Note: "default 0644"},
	{Group: "PodSpec", Path: "volumes[].projected.sources[].configMap.name"},
	{Group: "PodSpec", Path: "volumes[].projected.sources[].configMap.items[]", Ref: "KeyToPath"},
	{Group: "PodSpec", Path: "volumes[].projected.sources[].configMap.optional"},
	{Group: "PodSpec", Path: "volumes[].projected.sources[].secret.name"},
	{Group: "PodSpec", Path: "volumes[].projected.sources[].secret.items[]", Ref: "KeyToPath"},
	{Group: "PodSpec", Path: "volumes[].projected.sources[].secret.optional"},
	{Group: "PodSpec", Path: "volumes[].projected.sources[].downwardAPI.items[]", Ref: "DownwardAPIFile"},
	{Group: "PodSpec", Path: "volumes[].hostPath.path", Note: "only when the agent runs with --allow-host-path"},
	{Group: "PodSpec", Path: "volumes[].hostPath.type"},
	{Group: "PodSpec", Path: "volumes[].persistentVolumeClaim.claimName", Note: "a PersistentVolumeClaim in Git, same namespace"},
	{Group: "PodSpec", Path: "restartPolicy", Note: "Always, OnFailure, Never, as the kind allows"},
	{Group: "PodSpec", Path: "terminationGracePeriodSeconds", Note: "default 30"},
	{Group: "PodSpec", Path: "nodeSelector.*"},
	{Group: "PodSpec", Path: "tolerations[].key"},
	{Group: "PodSpec", Path: "tolerations[].operator", Note: "Equal (default) or Exists"},
	{Group: "PodSpec", Path: "tolerations[].value"},
	{Group: "PodSpec", Path: "tolerations[].effect", Note: "NoSchedule, PreferNoSchedule, NoExecute"},
	{Group: "PodSpec", Path: "hostname"},
	{Group: "PodSpec", Path: "subdomain", Note: "with hostname: hostname.subdomain.ns.svc.cluster.local when a headless Service of that name selects the pod"},
	{Group: "PodSpec", Path: "serviceAccountName", Note: "accepted; berth has no service accounts and mounts no token"},
	{Group: "PodSpec", Path: "serviceAccount", Note: "deprecated alias of serviceAccountName; accepted likewise"},
	{Group: "PodSpec", Path: "automountServiceAccountToken", Note: "accepted; berth mounts no token whatever the value"},
	{Group: "PodSpec", Path: "enableServiceLinks", Note: "accepted; berth sets no {SERVICE}_SERVICE_HOST variables: use cluster DNS"},
	{Group: "PodSpec", Path: "dnsPolicy", Note: "ClusterFirst (default), Default, None (with dnsConfig); ClusterFirstWithHostNet is refused, as hostNetwork is"},
	{Group: "PodSpec", Path: "dnsConfig.nameservers[]", Note: "at most 3"},
	{Group: "PodSpec", Path: "dnsConfig.searches[]", Note: "at most 32"},
	{Group: "PodSpec", Path: "dnsConfig.options[].name"},
	{Group: "PodSpec", Path: "dnsConfig.options[].value"},
	{Group: "PodSpec", Path: "securityContext.runAsUser"},
	{Group: "PodSpec", Path: "securityContext.runAsGroup"},
	{Group: "PodSpec", Path: "securityContext.runAsNonRoot", Note: "a container whose image would run as root is refused at start"},
	{Group: "PodSpec", Path: "securityContext.fsGroup", Note: "owner group of the pod's volumes"},
	{Group: "PodSpec", Path: "securityContext.supplementalGroups[]"},
	{Group: "PodSpec", Path: "securityContext.seccompProfile.type", Note: "RuntimeDefault or Unconfined; Localhost is refused"},
	{Group: "PodSpec", Path: "securityContext.sysctls[].name", Note: "the kubelet's safe, namespaced set only"},
	{Group: "PodSpec", Path: "securityContext.sysctls[].value"},

	{Group: "Container", Path: "name", Note: "required; unique in the pod, init containers included"},
	{Group: "Container", Path: "image", Note: "required"},
	{Group: "Container", Path: "imagePullPolicy", Note: "default Always for :latest or no tag, else IfNotPresent"},
	{Group: "Container", Path: "command[]"},
	{Group: "Container", Path: "args[]"},
	{Group: "Container", Path: "workingDir"},
	{Group: "Container", Path: "env[].name"},
	{Group: "Container", Path: "env[].value", Note: "$(VAR) expands as in Kubernetes"},
	{Group: "Container", Path: "env[].valueFrom.configMapKeyRef.name", Note: "must exist in the revision unless optional; read when the container starts"},
	{Group: "Container", Path: "env[].valueFrom.configMapKeyRef.key"},
	{Group: "Container", Path: "env[].valueFrom.configMapKeyRef.optional"},
	{Group: "Container", Path: "env[].valueFrom.secretKeyRef.name", Note: "must exist in the revision unless optional; read when the container starts"},
	{Group: "Container", Path: "env[].valueFrom.secretKeyRef.key"},
	{Group: "Container", Path: "env[].valueFrom.secretKeyRef.optional"},
	{Group: "Container", Path: "env[].valueFrom.fieldRef.fieldPath", Note: "metadata.name, metadata.namespace, metadata.uid, metadata.labels['…'], metadata.annotations['…'], spec.nodeName, spec.serviceAccountName, status.podIP(s), status.hostIP(s)"},
	{Group: "Container", Path: "env[].valueFrom.fieldRef.apiVersion", Note: "v1"},
	{Group: "Container", Path: "env[].valueFrom.resourceFieldRef.containerName"},
	{Group: "Container", Path: "env[].valueFrom.resourceFieldRef.resource", Note: "limits.cpu, limits.memory, requests.cpu, requests.memory"},
	{Group: "Container", Path: "env[].valueFrom.resourceFieldRef.divisor"},
	{Group: "Container", Path: "envFrom[].configMapRef.name", Note: "must exist in the revision unless optional"},
	{Group: "Container", Path: "envFrom[].configMapRef.optional"},
	{Group: "Container", Path: "envFrom[].secretRef.name", Note: "must exist in the revision unless optional"},
	{Group: "Container", Path: "envFrom[].secretRef.optional"},
	{Group: "Container", Path: "envFrom[].prefix"},
	{Group: "Container", Path: "ports[].name"},
	{Group: "Container", Path: "ports[].containerPort"},
	{Group: "Container", Path: "ports[].hostPort"},
	{Group: "Container", Path: "ports[].protocol", Note: "TCP (default), UDP"},
	{Group: "Container", Path: "ports[].hostIP", Note: "with hostPort: the host address to bind"},
	{Group: "Container", Path: "resources.requests.*", Note: "cpu, memory"},
	{Group: "Container", Path: "resources.limits.*", Note: "cpu, memory; enforced by the container's cgroup"},
	{Group: "Container", Path: "volumeMounts[].name"},
	{Group: "Container", Path: "volumeMounts[].mountPath"},
	{Group: "Container", Path: "volumeMounts[].readOnly"},
	{Group: "Container", Path: "volumeMounts[].subPath"},
	{Group: "Container", Path: "restartPolicy", Note: "init containers only: Always (a sidecar)"},
	{Group: "Container", Path: "terminationMessagePath", Note: "default /dev/termination-log; read after the container exits and shown by describe"},
	{Group: "Container", Path: "terminationMessagePolicy", Note: "File (default) or FallbackToLogsOnError"},
	{Group: "Container", Path: "securityContext.runAsUser"},
	{Group: "Container", Path: "securityContext.runAsGroup"},
	{Group: "Container", Path: "securityContext.runAsNonRoot", Note: "a container whose image would run as root is refused at start"},
	{Group: "Container", Path: "securityContext.readOnlyRootFilesystem"},
	{Group: "Container", Path: "securityContext.allowPrivilegeEscalation", Note: "false sets no_new_privs"},
	{Group: "Container", Path: "securityContext.privileged"},
	{Group: "Container", Path: "securityContext.capabilities.add[]", Note: "added to containerd's default set"},
	{Group: "Container", Path: "securityContext.capabilities.drop[]", Note: "ALL or names, with or without CAP_"},
	{Group: "Container", Path: "securityContext.seccompProfile.type", Note: "RuntimeDefault or Unconfined; Localhost is refused"},
	{Group: "Container", Path: "livenessProbe", Ref: "Probe"},
	{Group: "Container", Path: "readinessProbe", Ref: "Probe"},
	{Group: "Container", Path: "startupProbe", Ref: "Probe"},
	{Group: "Container", Path: "lifecycle.postStart", Ref: "LifecycleHandler", Note: "app containers and sidecars: runs right after the container starts, which is not reported running (and starts no later container) until the hook returns; a failure stops it with a FailedPostStartHook event and the restart policy applies"},
	{Group: "Container", Path: "lifecycle.preStop", Ref: "LifecycleHandler", Note: "app containers and sidecars: runs before SIGTERM whenever berth stops the container, not when it exits by itself; hook and SIGTERM share terminationGracePeriodSeconds (SIGTERM gets at least 2s after a hook, as the kubelet does); a failure or timeout gives a FailedPreStopHook event and the stop goes on"},

	{Group: "Probe", Path: "exec.command[]"},
	{Group: "Probe", Path: "httpGet.path"},
	{Group: "Probe", Path: "httpGet.port"},
	{Group: "Probe", Path: "httpGet.host"},
	{Group: "Probe", Path: "httpGet.scheme", Note: "HTTP or HTTPS"},
	{Group: "Probe", Path: "httpGet.httpHeaders[].name"},
	{Group: "Probe", Path: "httpGet.httpHeaders[].value"},
	{Group: "Probe", Path: "tcpSocket.port"},
	{Group: "Probe", Path: "tcpSocket.host"},
	{Group: "Probe", Path: "initialDelaySeconds"},
	{Group: "Probe", Path: "periodSeconds", Note: "default 10"},
	{Group: "Probe", Path: "timeoutSeconds", Note: "default 1"},
	{Group: "Probe", Path: "successThreshold", Note: "default 1"},
	{Group: "Probe", Path: "failureThreshold", Note: "default 3"},
	{Group: "Probe", Path: "terminationGracePeriodSeconds", Note: "liveness and startup probes: the grace period when the probe kills the container"},

	{Group: "LifecycleHandler", Path: "exec.command[]", Note: "run in the container, as exec probes; at most 10 KiB of its output is kept for the message"},
	{Group: "LifecycleHandler", Path: "httpGet.path", Note: "default /"},
	{Group: "LifecycleHandler", Path: "httpGet.port", Note: "a number or a container port's name"},
	{Group: "LifecycleHandler", Path: "httpGet.host", Note: "default: the pod IP"},
	{Group: "LifecycleHandler", Path: "httpGet.scheme", Note: "HTTP (default) or HTTPS (certificate not verified); as the kubelet, any answer counts as done, only no answer fails"},
	{Group: "LifecycleHandler", Path: "httpGet.httpHeaders[].name"},
	{Group: "LifecycleHandler", Path: "httpGet.httpHeaders[].value"},
	{Group: "LifecycleHandler", Path: "sleep.seconds", Note: "0 to terminationGracePeriodSeconds"},
	{Group: "LifecycleHandler", Path: "tcpSocket", Note: "refused by name: deprecated, and the kubelet fails such a hook when it runs"},

	{Group: "KeyToPath", Path: "key"},
	{Group: "KeyToPath", Path: "path", Note: "relative, without .."},
	{Group: "KeyToPath", Path: "mode"},
	{Group: "DownwardAPIFile", Path: "path", Note: "relative, without .."},
	{Group: "DownwardAPIFile", Path: "fieldRef.fieldPath", Note: "metadata.name, metadata.namespace, metadata.uid, metadata.labels, metadata.annotations (or one key of them)"},
	{Group: "DownwardAPIFile", Path: "fieldRef.apiVersion", Note: "v1"},
	{Group: "DownwardAPIFile", Path: "resourceFieldRef.containerName", Note: "required"},
	{Group: "DownwardAPIFile", Path: "resourceFieldRef.resource", Note: "limits.cpu, limits.memory, requests.cpu, requests.memory"},
	{Group: "DownwardAPIFile", Path: "resourceFieldRef.divisor"},
	{Group: "DownwardAPIFile", Path: "mode"},
}

// fieldNode is one step of the supported-field trie.
type fieldNode struct {
	children map[string]*fieldNode
	anyKey   *fieldNode // "*": every key of a free-form map
	item     *fieldNode // "[]": every item of a list
	leaf     bool       // anything below is the value of a supported field
}

func newFieldNode() *fieldNode { return &fieldNode{children: map[string]*fieldNode{}} }

var fieldTrie = buildFieldTrie(Supported)

// buildFieldTrie links the groups: a row with a Ref shares the Ref group's
// node, so PodSpec is described once and reached from every template.
func buildFieldTrie(rows []Field) map[Kind]*fieldNode {
	groups := map[string]*fieldNode{}
	group := func(name string) *fieldNode {
		g, ok := groups[name]
		if !ok {
			g = newFieldNode()
			groups[name] = g
		}
		return g
	}
	for _, r := range rows {
		n := group(r.Group)
		segs := strings.Split(r.Path, ".")
		for i, s := range segs {
			list := strings.HasSuffix(s, "[]")
			s = strings.TrimSuffix(s, "[]")
			last := i == len(segs)-1
			var next *fieldNode
			if s == "*" {
				if n.anyKey == nil {
					n.anyKey = newFieldNode()
				}
				next = n.anyKey
			} else {
				if n.children[s] == nil {
					if last && !list && r.Ref != "" {
						n.children[s] = group(r.Ref)
					} else {
						n.children[s] = newFieldNode()
					}
				}
				next = n.children[s]
			}
			if list {
				if next.item == nil {
					if last && r.Ref != "" {
						next.item = group(r.Ref)
					} else {
						next.item = newFieldNode()
					}
				}
				next = next.item
			}
			n = next
		}
		if r.Ref == "" {
			n.leaf = true
		}
	}
	roots := map[Kind]*fieldNode{}
	for k := range kinds {
		root := newFieldNode()
		for name, child := range group("Object").children {
			root.children[name] = child
		}
		for name, child := range group(string(k)).children {
			root.children[name] = child
		}
		roots[k] = root
	}
	return roots
}

// checkSupported walks a document and reports every set field berth does
// not implement. Paths in skip were already reported (as unknown to
// Kubernetes), and are not reported twice.
func checkSupported(kind Kind, root *yaml.Node, skip map[string]bool) []fieldProblem {
	var out []fieldProblem
	var path []pathSeg
	var walk func(n *yaml.Node, f *fieldNode, depth int)
	walk = func(n *yaml.Node, f *fieldNode, depth int) {
		if depth > MaxDepth {
			return
		}
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		if f.leaf {
			return
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				path = append(path, pathSeg{key: k.Value, index: -1})
				next := f.children[k.Value]
				if next == nil {
					next = f.anyKey
				}
				if next == nil && k.Tag != "!!merge" {
					if !isUnset(v) {
						p := formatPath(path)
						msg := "not supported by berth"
						if p == "status" {
							msg = "status is written by berth, not read from Git; remove it"
						}
						if !skip[p] {
							out = append(out, fieldProblem{path: p, line: k.Line, message: msg})
						}
					}
				} else if next != nil {
					walk(v, next, depth+1)
				}
				path = path[:len(path)-1]
			}
		case yaml.SequenceNode:
			if f.item == nil {
				return
			}
			for i, item := range n.Content {
				path = append(path, pathSeg{index: i})
				walk(item, f.item, depth+1)
				path = path[:len(path)-1]
			}
		}
	}
	walk(root, fieldTrie[kind], 0)
	return out
}

// isUnset reports whether a value counts as not set: null, {} or [].
// Generated manifests (kubectl create --dry-run -o yaml) carry
// `creationTimestamp: null`, `resources: {}` and `status: {}`.
func isUnset(n *yaml.Node) bool {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return n.ShortTag() == "!!null"
	case yaml.MappingNode, yaml.SequenceNode:
		return len(n.Content) == 0
	}
	return false
}

// FieldsMarkdown renders Supported as the Markdown table in the README.
func FieldsMarkdown() string {
	var b strings.Builder
	b.WriteString("| where | field | notes |\n|---|---|---|\n")
	order := []string{"Object", "ObjectMeta", "ConfigMap", "Secret", "Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Service", "JobSpec", "PersistentVolumeClaim", "StorageClass", "ClaimTemplate", "ClaimSpec", "TemplateMeta", "LabelSelector", "PodSpec", "Container", "Probe", "LifecycleHandler", "KeyToPath", "DownwardAPIFile"}
	rank := map[string]int{}
	for i, g := range order {
		rank[g] = i
	}
	rows := append([]Field(nil), Supported...)
	sort.SliceStable(rows, func(i, j int) bool { return rank[rows[i].Group] < rank[rows[j].Group] })
	for _, r := range rows {
		path := r.Path
		if r.Ref != "" {
			path += " → " + r.Ref
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s |\n", r.Group, path, r.Note)
	}
	return b.String()
}
