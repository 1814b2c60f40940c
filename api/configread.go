package api

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Paths of the users' reads of ConfigMaps and Secrets.
const (
	PathConfigMaps = "/api/v1/configmaps"
	PathSecrets    = "/api/v1/secrets"
)

// SecretSummary is a Secret as users read it: its keys and the size of
// each value, never a value (`berth get`/`describe secret`). The API has
// no way to read a Secret's data: only the agent of a node that runs a pod
// using it gets the data, in its pod list.
type SecretSummary struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Type              corev1.SecretType `json:"type"`
	Immutable         bool              `json:"immutable,omitempty"`
	// Encrypted is set when the Secret is SOPS-encrypted in Git.
	Encrypted bool `json:"encrypted,omitempty"`
	// Sizes maps each key to the length in bytes of its value.
	Sizes map[string]int `json:"sizes"`
}

// SecretSummaryList is a list of SecretSummary.
type SecretSummaryList struct {
	metav1.TypeMeta `json:",inline"`
	Items           []SecretSummary `json:"items"`
}
