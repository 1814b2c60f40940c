package manifest

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/berth-dev/berth/internal/sopstest"
)

func sopsSecret(t *testing.T, plain, regex string, id *age.X25519Identity) []byte {
	t.Helper()
	out, err := sopstest.Encrypt([]byte(plain), []*age.X25519Recipient{id.Recipient()}, sopstest.Options{EncryptedRegex: regex})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSOPSSecretRoundTrip encrypts a Secret for a fresh age key, reads it
// without the key (structure only), then decrypts it in memory.
func TestSOPSSecretRoundTrip(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	const plain = "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\ntype: kubernetes.io/basic-auth\nstringData:\n  username: admin\n  password: hunter2-very-secret\ndata:\n  ca.crt: aHVudGVyMg==\n"
	enc := sopsSecret(t, plain, "^(data|stringData)$", id)
	objs, errs := DecodeFile("db.yaml", enc)
	if errs != nil {
		t.Fatal(errs)
	}
	s := objs[0].Secret
	if !s.Encrypted || s.Decrypted || len(objs[0].Warnings) != 0 {
		t.Fatalf("encrypted=%v decrypted=%v warnings=%v", s.Encrypted, s.Decrypted, objs[0].Warnings)
	}
	if len(s.Data["password"]) != 0 || len(s.Data) != 3 {
		t.Errorf("undecrypted data = %v", s.Data)
	}
	if got := EncryptedSecrets(objs); len(got) != 1 || got[0] != (Key{Kind: KindSecret, Namespace: "shop", Name: "db"}) {
		t.Errorf("EncryptedSecrets = %v", got)
	}

	out, derrs := DecryptSecrets(objs, Identities{id})
	if derrs != nil {
		t.Fatal(derrs)
	}
	ds := out[0].Secret
	if !ds.Decrypted || string(ds.Data["password"]) != "hunter2-very-secret" || string(ds.Data["username"]) != "admin" || string(ds.Data["ca.crt"]) != "hunter2" {
		t.Errorf("decrypted data wrong (keys %v)", ds.Data)
	}
	if objs[0].Secret.Decrypted || len(objs[0].Secret.Data["password"]) != 0 {
		t.Error("DecryptSecrets changed the shared object")
	}

	other, _ := age.GenerateX25519Identity()
	for _, ids := range []IdentitySource{nil, Identities{other}} {
		_, derrs = DecryptSecrets(objs, ids)
		if len(derrs) != 1 || !strings.HasPrefix(derrs[0].Error(), "db.yaml:") || !strings.Contains(derrs[0].Error(), "no age identity given can decrypt") {
			t.Errorf("without the key: %v", derrs)
		}
	}
}

func TestSOPSSecretInvalidAfterDecryption(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	const plain = "apiVersion: v1\nkind: Secret\nmetadata: {name: reg}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: hunter2-not-json\n"
	objs, errs := DecodeFile("reg.yaml", sopsSecret(t, plain, "^(data|stringData)$", id))
	if errs != nil {
		t.Fatal(errs)
	}
	_, derrs := DecryptSecrets(objs, Identities{id})
	if len(derrs) != 1 || derrs[0].Error() != `reg.yaml:1: data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": invalid JSON` {
		t.Errorf("got %v", derrs)
	}
}

func TestSOPSDocumentRefused(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	tests := []struct {
		name string
		doc  []byte
		want string
	}{
		{name: "kind encrypted", doc: sopsSecret(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {a: hunter2}\n", "", id),
			want: "f.yaml:1: apiVersion: is encrypted: encrypt only a Secret's values (sops --encrypt --encrypted-regex '^(data|stringData)$')"},
		{name: "not a Secret", doc: sopsSecret(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata: {a: hunter2}\n", "^data$", id),
			want: "f.yaml:@: sops: only a Secret may be SOPS-encrypted, not a ConfigMap"},
		{name: "two documents", doc: append([]byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: ns1}\n---\n"), sopsSecret(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {a: hunter2}\n", "^stringData$", id)...),
			want: "f.yaml:5: sops: a SOPS-encrypted file must hold exactly one document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// @ stands for the line of the sops key.
			for i, l := range strings.Split(string(tt.doc), "\n") {
				if strings.HasPrefix(l, "sops:") {
					tt.want = strings.Replace(tt.want, "@", strconv.Itoa(i+1), 1)
				}
			}
			objs, errs := DecodeFile("f.yaml", tt.doc)
			if len(objs) != 0 || len(errs) == 0 || !strings.HasPrefix(errs[0].Error(), tt.want) {
				t.Fatalf("objs %d, errs:\n%v\nwant %s", len(objs), errs, tt.want)
			}
			if strings.Contains(errs.Error(), "hunter2") {
				t.Error("error shows a value")
			}
		})
	}
}

type failingSource struct{}

func (failingSource) AgeIdentities() ([]age.Identity, error) { return nil, errors.New("no key file") }

func TestDecryptSecretsIdentityError(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	objs, _ := DecodeFile("s.yaml", sopsSecret(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {a: b}\n", "^stringData$", id))
	if _, errs := DecryptSecrets(objs, failingSource{}); len(errs) != 1 || !strings.Contains(errs[0].Message, "no key file") {
		t.Errorf("got %v", errs)
	}
	plainOnly, _ := DecodeFile("c.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"))
	if out, errs := DecryptSecrets(plainOnly, failingSource{}); errs != nil || len(out) != 1 {
		t.Errorf("no encrypted secret should need no identity: %v", errs)
	}
}
