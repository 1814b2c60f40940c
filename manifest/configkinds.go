package manifest

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Secret is a v1 Secret as berth keeps it. It is not a corev1.Secret on
// purpose: that type's String() prints every value, and a Secret's values
// must never reach a log, an error or a String(). Data prints only keys
// and sizes; its values leave the process only through the wire types the
// server sends to the node that runs a pod using it.
type Secret struct {
	ObjectMeta metav1.ObjectMeta
	Type       corev1.SecretType
	Immutable  bool
	// Data is data and stringData merged as the API server merges them
	// (stringData wins). For an Encrypted Secret not yet decrypted, Data
	// holds the keys with nil values.
	Data SecretData
	// Encrypted is set when the Secret is SOPS-encrypted in Git; Decrypted
	// once DecryptSecrets has filled Data with an age identity.
	Encrypted bool
	Decrypted bool

	sops *sopsSource // the encrypted document, for DecryptSecrets
}

// SecretData maps a Secret's keys to values. Printing it in any form
// (%v, %+v, %#v, %s, slog) shows keys and sizes, never values.
type SecretData map[string][]byte

// String lists keys and sizes: "{password: 12 bytes, user: 5 bytes}".
func (d SecretData) String() string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d bytes", k, len(d[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// GoString is String, so %#v does not print values either.
func (d SecretData) GoString() string { return d.String() }

// Format makes every fmt verb print String.
func (d SecretData) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(d.String())) }

// LogValue makes slog print String.
func (d SecretData) LogValue() slog.Value { return slog.StringValue(d.String()) }

func validateConfigMap(cm *corev1.ConfigMap) field.ErrorList {
	errs := validateMeta(&cm.ObjectMeta, validation.DNS1123SubdomainMaxLength, field.NewPath("metadata"))
	total := 0
	for key, value := range cm.Data {
		for _, msg := range validation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(field.NewPath("data").Key(key), key, msg))
		}
		if _, dup := cm.BinaryData[key]; dup {
			errs = append(errs, field.Invalid(field.NewPath("data").Key(key), key, "duplicate of key present in binaryData"))
		}
		total += len(value)
	}
	for key, value := range cm.BinaryData {
		for _, msg := range validation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(field.NewPath("binaryData").Key(key), key, msg))
		}
		total += len(value)
	}
	if total > corev1.MaxSecretSize {
		errs = append(errs, field.TooLong(field.NewPath(""), "", corev1.MaxSecretSize))
	}
	return errs
}

// validateSecret follows Kubernetes' ValidateSecret on the merged data.
// Values are never put into an error: where Kubernetes shows one, berth
// shows "<secret contents redacted>" as Kubernetes does for docker configs.
// An encrypted Secret has keys but no values yet; the checks of values wait
// for decryption.
func validateSecret(s *corev1.Secret, encrypted bool) field.ErrorList {
	errs := validateMeta(&s.ObjectMeta, validation.DNS1123SubdomainMaxLength, field.NewPath("metadata"))
	dataPath := field.NewPath("data")
	total := 0
	for key, value := range s.Data {
		for _, msg := range validation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(dataPath.Key(key), key, msg))
		}
		total += len(value)
	}
	for key, value := range s.StringData {
		for _, msg := range validation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(field.NewPath("stringData").Key(key), key, msg))
		}
		if _, ok := s.Data[key]; !ok {
			total += len(value)
		}
	}
	if total > corev1.MaxSecretSize {
		errs = append(errs, field.TooLong(dataPath, "", corev1.MaxSecretSize))
	}
	has := func(k string) bool {
		_, a := s.Data[k]
		_, b := s.StringData[k]
		return a || b
	}
	value := func(k string) []byte {
		if v, ok := s.StringData[k]; ok {
			return []byte(v)
		}
		return s.Data[k]
	}
	switch s.Type {
	case "", corev1.SecretTypeOpaque:
	case corev1.SecretTypeServiceAccountToken:
		errs = append(errs, field.Forbidden(field.NewPath("type"), "not supported by berth: berth has no service accounts and mounts no token"))
	case corev1.SecretTypeDockercfg, corev1.SecretTypeDockerConfigJson:
		key := corev1.DockerConfigKey
		if s.Type == corev1.SecretTypeDockerConfigJson {
			key = corev1.DockerConfigJsonKey
		}
		if !has(key) {
			errs = append(errs, field.Required(dataPath.Key(key), ""))
			break
		}
		if !encrypted {
			var v map[string]any
			if err := json.Unmarshal(value(key), &v); err != nil {
				errs = append(errs, field.Invalid(dataPath.Key(key), "<secret contents redacted>", "invalid JSON"))
			}
		}
	case corev1.SecretTypeBasicAuth:
		if !has(corev1.BasicAuthUsernameKey) && !has(corev1.BasicAuthPasswordKey) {
			errs = append(errs, field.Required(dataPath.Key(corev1.BasicAuthUsernameKey), ""))
			errs = append(errs, field.Required(dataPath.Key(corev1.BasicAuthPasswordKey), ""))
		}
	case corev1.SecretTypeSSHAuth:
		if !has(corev1.SSHAuthPrivateKey) || (!encrypted && len(value(corev1.SSHAuthPrivateKey)) == 0) {
			errs = append(errs, field.Required(dataPath.Key(corev1.SSHAuthPrivateKey), ""))
		}
	case corev1.SecretTypeTLS:
		if !has(corev1.TLSCertKey) {
			errs = append(errs, field.Required(dataPath.Key(corev1.TLSCertKey), ""))
		}
		if !has(corev1.TLSPrivateKeyKey) {
			errs = append(errs, field.Required(dataPath.Key(corev1.TLSPrivateKeyKey), ""))
		}
	default:
		// Kubernetes accepts any other type as user-defined.
		for _, msg := range validation.IsQualifiedName(string(s.Type)) {
			errs = append(errs, field.Invalid(field.NewPath("type"), s.Type, msg))
		}
	}
	return errs
}

// newSecret turns a decoded corev1.Secret into berth's Secret, merging
// stringData into data and defaulting the type to Opaque.
func newSecret(s *corev1.Secret) *Secret {
	out := &Secret{ObjectMeta: s.ObjectMeta, Type: s.Type, Data: SecretData{}}
	if out.Type == "" {
		out.Type = corev1.SecretTypeOpaque
	}
	if s.Immutable != nil {
		out.Immutable = *s.Immutable
	}
	for k, v := range s.Data {
		out.Data[k] = v
	}
	for k, v := range s.StringData {
		out.Data[k] = []byte(v)
	}
	return out
}

func validateNamespace(ns *corev1.Namespace) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(&ns.ObjectMeta, false, apivalidation.ValidateNamespaceName, field.NewPath("metadata"))
	if ns.GenerateName != "" {
		errs = append(errs, field.Forbidden(field.NewPath("metadata", "generateName"), "not supported by berth: a Namespace in Git must have a fixed name"))
	}
	if len(ns.Spec.Finalizers) > 0 {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "finalizers"), "not supported by berth"))
	}
	return errs
}

// defaultNamespace adds the label Kubernetes puts on every namespace.
func defaultNamespace(ns *corev1.Namespace) {
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[corev1.LabelMetadataName] = ns.Name
}
