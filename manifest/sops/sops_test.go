package sops_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	yaml "sigs.k8s.io/yaml/goyaml.v3"

	"github.com/berth-dev/berth/internal/sopstest"
	"github.com/berth-dev/berth/manifest/sops"
)

const secretDoc = `apiVersion: v1
kind: Secret
metadata:
  name: db
  labels: {app: db}
type: Opaque
stringData:
  password: hunter2-very-secret
  port: 5432
  debug: true
  ratio: 0.5
  empty: ""
  nothing:
data:
  blob: aHVudGVyMg==
`

func newIdentity(t testing.TB) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func encrypt(t testing.TB, plain string, opts sopstest.Options, ids ...*age.X25519Identity) []byte {
	t.Helper()
	var rs []*age.X25519Recipient
	for _, id := range ids {
		rs = append(rs, id.Recipient())
	}
	out, err := sopstest.Encrypt([]byte(plain), rs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func parse(t testing.TB, data []byte) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

func scalar(n *yaml.Node, path ...string) *yaml.Node {
	for _, p := range path {
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == p {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		opts sopstest.Options
	}{
		{name: "encrypted regex, as Flux users write", opts: sopstest.Options{EncryptedRegex: "^(data|stringData)$"}},
		{name: "everything encrypted (default)", opts: sopstest.Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, other := newIdentity(t), newIdentity(t)
			enc := encrypt(t, secretDoc, tt.opts, other, id)
			if strings.Contains(string(enc), "hunter2") {
				t.Fatal("encrypted file holds the value in clear")
			}
			d, err := sops.Read(parse(t, enc))
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Recipients(); len(got) != 2 || got[1] != id.Recipient().String() {
				t.Errorf("recipients = %v", got)
			}
			if d.Encrypted("kind") != (tt.opts.EncryptedRegex == "") {
				t.Errorf("Encrypted(kind) = %v", d.Encrypted("kind"))
			}
			blank := d.Blank()
			if v := scalar(blank, "stringData", "password"); v == nil || v.Value != "" {
				t.Errorf("blank password = %v", v)
			}
			if scalar(blank, "sops") != nil {
				t.Error("blank keeps the sops key")
			}
			plain, err := d.Decrypt([]age.Identity{id})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				path []string
				tag  string
				val  string
			}{
				{[]string{"stringData", "password"}, "!!str", "hunter2-very-secret"},
				{[]string{"stringData", "port"}, "!!int", "5432"},
				{[]string{"stringData", "debug"}, "!!bool", "true"},
				{[]string{"stringData", "ratio"}, "!!float", "0.5"},
				{[]string{"stringData", "empty"}, "!!str", ""},
				{[]string{"data", "blob"}, "!!str", "aHVudGVyMg=="},
				{[]string{"metadata", "name"}, "!!str", "db"},
				{[]string{"metadata", "labels", "app"}, "!!str", "db"},
			} {
				n := scalar(plain, c.path...)
				if n == nil || n.ShortTag() != c.tag || n.Value != c.val {
					t.Errorf("%v = %+v, want %s %q", c.path, n, c.tag, c.val)
				}
			}
		})
	}
}

func TestDecryptRefuses(t *testing.T) {
	id := newIdentity(t)
	enc := string(encrypt(t, secretDoc, sopstest.Options{EncryptedRegex: "^(data|stringData)$", LastModified: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, id))
	encPassword := scalar(parse(t, []byte(enc)), "stringData", "password").Value
	encBlob := scalar(parse(t, []byte(enc)), "data", "blob").Value
	tests := []struct {
		name    string
		doc     string
		ids     []age.Identity
		wantErr error
		want    string
	}{
		{name: "another identity", doc: enc, ids: []age.Identity{newIdentity(t)}, wantErr: sops.ErrNoIdentity, want: "sops.age: no age identity"},
		{name: "no identity", doc: enc, wantErr: sops.ErrNoIdentity, want: "sops: no age identity"},
		{name: "clear value changed", doc: strings.Replace(enc, "name: db", "name: dc", 1), ids: []age.Identity{id}, wantErr: sops.ErrMAC, want: "sops.mac: MAC mismatch"},
		{name: "lastmodified changed", doc: strings.Replace(enc, "2026-01-02T03:04:05Z", "2026-01-02T03:04:06Z", 1), ids: []age.Identity{id}, wantErr: sops.ErrMAC, want: "sops.mac: MAC mismatch"},
		{name: "encrypted value moved to another key", doc: strings.Replace(enc, encBlob, encPassword, 1), ids: []age.Identity{id},
			want: "data.blob: cannot decrypt value: authentication failed"},
		{name: "value removed", doc: strings.Replace(enc, "password: "+encPassword, "password: \"\"", 1), ids: []age.Identity{id}, wantErr: sops.ErrMAC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := sops.Read(parse(t, []byte(tt.doc)))
			if err != nil {
				t.Fatal(err)
			}
			_, err = d.Decrypt(tt.ids)
			if err == nil {
				t.Fatal("decrypted")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %q, want prefix %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the value: %v", err)
			}
		})
	}
}

func TestReadRefuses(t *testing.T) {
	head := "kind: Secret\nstringData:\n  a: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n"
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{name: "no age recipient", doc: head + "sops:\n  kms: [{arn: x, enc: y}]\n  lastmodified: '2026-01-01T00:00:00Z'\n  mac: m\n  encrypted_regex: ^stringData$\n",
			want: "sops: no age recipient: berth decrypts with age only, this file is encrypted for kms"},
		{name: "no recipients at all", doc: head + "sops:\n  lastmodified: '2026-01-01T00:00:00Z'\n  mac: m\n",
			want: "sops.age: Required value"},
		{name: "key groups", doc: head + "sops:\n  key_groups: [{age: [{recipient: r, enc: e}]}]\n",
			want: "sops.key_groups: not supported by berth"},
		{name: "unknown metadata", doc: head + "sops:\n  age: [{recipient: r, enc: e}]\n  frobnicate: true\n",
			want: "sops.frobnicate: unknown SOPS metadata field"},
		{name: "bad lastmodified", doc: head + "sops:\n  age: [{recipient: r, enc: e}]\n  lastmodified: yesterday\n",
			want: "sops.lastmodified: must be an RFC 3339 time"},
		{name: "value in clear where encrypted", doc: "kind: Secret\nstringData:\n  a: hunter2-in-clear\nsops:\n  age: [{recipient: r, enc: e}]\n  lastmodified: '2026-01-01T00:00:00Z'\n  mac: m\n  encrypted_regex: ^stringData$\n",
			want: "stringData.a: the sops metadata says this value is encrypted, but it is not"},
		{name: "aliases", doc: "kind: &k Secret\nother: *k\nsops:\n  age: [{recipient: r, enc: e}]\n  lastmodified: '2026-01-01T00:00:00Z'\n  mac: m\n  encrypted_regex: ^stringData$\n",
			want: "kind: anchors and aliases are not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sops.Read(parse(t, []byte(tt.doc)))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want prefix %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the value: %v", err)
			}
		})
	}
}

// FuzzReadDecrypt feeds arbitrary documents to the SOPS reader and
// decrypts with a fixed identity. It must never panic; a document it
// decrypts must have passed the MAC, so its sops key is gone. The seed
// corpus (real encrypted documents and broken ones) runs in go test.
func FuzzReadDecrypt(f *testing.F) {
	id := newIdentity(f)
	f.Add(encrypt(f, secretDoc, sopstest.Options{EncryptedRegex: "^(data|stringData)$"}, id))
	f.Add(encrypt(f, secretDoc, sopstest.Options{}, id))
	f.Add(encrypt(f, "a: [1, {b: c}, [d]]\nx_unencrypted: {y: z}\n", sopstest.Options{}, id))
	f.Add([]byte("kind: Secret\nsops: {age: [{recipient: r, enc: e}], lastmodified: '2026-01-01T00:00:00Z', mac: m}\n"))
	f.Add([]byte("a: ENC[AES256_GCM,data:,iv:AA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:int]\nsops: {age: [{enc: x}], lastmodified: '2026-01-01T00:00:00Z', mac: m}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var doc yaml.Node
		if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
			return
		}
		d, err := sops.Read(doc.Content[0])
		if err != nil {
			return
		}
		_ = d.Blank()
		plain, err := d.Decrypt([]age.Identity{id})
		if err != nil {
			return
		}
		if scalar(plain, sops.Key) != nil {
			t.Fatal("decrypted document keeps the sops key")
		}
	})
}
