package api

// Kinds of BoundConfig.
const (
	KindConfigMap = "ConfigMap"
	KindSecret    = "Secret"
)

// BoundConfig is a ConfigMap or Secret sent to a node because a pod bound
// to that node uses it (by env, envFrom or a volume): the node restriction
// rule, so a node holds only the data of its own pods. The server sends
// one record per object, in the same watch as the pods that use it; the
// agent writes Secret data only to tmpfs and never logs it.
type BoundConfig struct {
	// Kind is KindConfigMap or KindSecret.
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// ResourceVersion changes whenever Data does (the Git revision that
	// last changed the object, say), so an agent can skip unchanged data.
	ResourceVersion string `json:"resourceVersion,omitempty"`
	// Data holds every key: a ConfigMap's data and binaryData merged (keys
	// are unique across both), a Secret's data (decoded, and decrypted when
	// it was SOPS-encrypted in Git) with stringData folded in.
	Data map[string][]byte `json:"data,omitempty"`
}

// Key is the record's identity, kind/namespace/name.
func (c BoundConfig) Key() string { return c.Kind + "/" + c.Namespace + "/" + c.Name }
