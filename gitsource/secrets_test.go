package gitsource

import (
	"context"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/berth-dev/berth/internal/sopstest"
	"github.com/berth-dev/berth/manifest"
)

// TestEncryptedSecretFromGit reads a SOPS-encrypted Secret from a real Git
// server: with the age identity the snapshot holds it decrypted in memory;
// without one the revision is refused naming the file; a Secret in clear
// text is accepted with a warning the snapshot carries.
func TestEncryptedSecretFromGit(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := sopstest.Encrypt([]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: hunter2-very-secret}\n"),
		[]*age.X25519Recipient{id.Recipient()}, sopstest.Options{EncryptedRegex: "^(data|stringData)$"})
	if err != nil {
		t.Fatal(err)
	}
	u := newUpstream(t)
	u.commitPush("secret", map[string]string{"db.yaml": string(enc), "plain.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: plain}\nstringData: {a: b}\n"})

	s, logs := newTestSource(t, u.bare, func(o *Options) { o.Identities = manifest.Identities{id} })
	snap := mustSync(t, s)
	var db *manifest.Secret
	for i := range snap.Objects {
		if snap.Objects[i].Name == "db" {
			db = snap.Objects[i].Secret
		}
	}
	if db == nil || !db.Decrypted || string(db.Data["password"]) != "hunter2-very-secret" {
		t.Fatalf("secret not decrypted: %+v", db)
	}
	if len(snap.Warnings) != 1 || !strings.HasPrefix(snap.Warnings[0].Error(), "plain.yaml:4: stringData: this Secret's values are in Git in clear text") {
		t.Errorf("warnings = %v", snap.Warnings)
	}

	without, logs2 := newTestSource(t, u.bare, nil)
	err = without.Sync(context.Background())
	if err == nil || !strings.Contains(err.Error(), "problem") {
		t.Fatalf("without an identity: %v", err)
	}
	st := without.Status()
	if st.Rejected == nil || len(st.Rejected.Errors) != 1 || !strings.HasPrefix(st.Rejected.Errors[0].Error(), "db.yaml:") {
		t.Fatalf("status %+v", st.Rejected)
	}
	for _, l := range []string{logs.String(), logs2.String(), st.Rejected.Errors[0].Error()} {
		if strings.Contains(l, "hunter2") {
			t.Errorf("a secret value reached the logs or status: %s", l)
		}
	}
}
