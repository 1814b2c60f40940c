//go:build !berth_agent

package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	agelib "filippo.io/age"

	"github.com/berth-dev/berth/internal/sopstest"
)

func TestValidateSecretsAndNamespaces(t *testing.T) {
	id, err := agelib.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := agelib.GenerateX25519Identity()
	enc, err := sopstest.Encrypt([]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: tools}\nstringData: {password: hunter2-very-secret}\n"),
		[]*agelib.X25519Recipient{id.Recipient()}, sopstest.Options{EncryptedRegex: "^(data|stringData)$"})
	if err != nil {
		t.Fatal(err)
	}
	dir, keys := t.TempDir(), t.TempDir()
	for name, body := range map[string]string{
		"db.yaml":    string(enc),
		"plain.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: plain}\nstringData: {a: hunter2-plain}\n",
		"ns.yaml":    "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	good, bad := filepath.Join(keys, "good.txt"), filepath.Join(keys, "bad.txt")
	if err := os.WriteFile(good, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(other.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{name: "without identity", args: []string{"validate", dir}, want: []string{
			"warning: plain.yaml:4: stringData: this Secret's values are in Git in clear text",
			"valid, 4 objects (1 ConfigMap, 1 Namespace, 2 Secret)",
			"implied namespaces (used, not declared by a Namespace object): tools",
			"encrypted Secrets, checked for structure only (no --age-identity): tools/db"}},
		{name: "with identity", args: []string{"validate", "--age-identity", good, dir}, want: []string{"valid, 4 objects"}},
		{name: "with another identity", args: []string{"validate", "--age-identity", bad, dir}, wantCode: 1, want: []string{"db.yaml:", "no age identity given can decrypt"}},
		{name: "json", args: []string{"validate", "-o", "json", dir}, want: []string{`"impliedNamespaces": [`, `"tools/db"`, `"warnings": [`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(tt.args...)
			var ee exitError
			if tt.wantCode == 0 && err != nil || tt.wantCode > 0 && (!errors.As(err, &ee) || ee.code != tt.wantCode) {
				t.Fatalf("exit: %v\n%s", err, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output %q does not contain %q", out, w)
				}
			}
			if strings.Contains(out, "hunter2") {
				t.Errorf("output shows a secret value: %s", out)
			}
			if tt.name == "with identity" && strings.Contains(out, "encrypted Secrets") {
				t.Errorf("decrypted secret still reported as encrypted: %s", out)
			}
		})
	}
}

func TestAgeKeyFile(t *testing.T) {
	dir := t.TempDir()
	f := ageKeyFile(filepath.Join(dir, AgeKeyFile))
	if ids, err := f.AgeIdentities(); err != nil || ids != nil {
		t.Fatalf("missing file: %v %v", ids, err)
	}
	id, _ := agelib.GenerateX25519Identity()
	if err := os.WriteFile(string(f), []byte("# created by a test\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ids, err := f.AgeIdentities(); err != nil || len(ids) != 1 {
		t.Fatalf("key file: %v %v", ids, err)
	}
	if err := os.WriteFile(string(f), []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.AgeIdentities(); err == nil {
		t.Fatal("a broken key file must be an error")
	}
}
