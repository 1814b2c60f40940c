package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/berth-dev/berth/internal/sopstest"
)

// FuzzDecodeFile feeds arbitrary bytes to the decoder. It must never panic,
// must place every error in the file it was given, and must return either
// objects or errors for each document, never an object with no name.
// The seed corpus (examples-repo and the broken tree) runs in `go test`.
func FuzzDecodeFile(f *testing.F) {
	for _, dir := range []string{"../examples-repo", "testdata/broken"} {
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && IsManifestFile(p) {
				if data, err := os.ReadFile(p); err == nil {
					f.Add(data)
				}
			}
			return nil
		})
	}
	f.Add([]byte("a: &a [x]\nb: [*a, *a]\n<<: {c: d}\n"))
	f.Add([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"j"},"spec":{"containers":[{"name":"c","image":"i"}]}}`))
	f.Add([]byte("apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {schedule: 'TZ=', jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: i}]}}}}}\n"))
	id, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	if enc, err := sopstest.Encrypt([]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {a: b}\n"), []*age.X25519Recipient{id.Recipient()}, sopstest.Options{EncryptedRegex: "^(data|stringData)$"}); err == nil {
		f.Add(enc)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, errs := DecodeFile("fuzz.yaml", data)
		for _, e := range errs {
			if e.File != "fuzz.yaml" {
				t.Fatalf("error names file %q", e.File)
			}
			if e.Line < 0 {
				t.Fatalf("negative line in %v", e)
			}
			if strings.TrimSpace(e.Message) == "" {
				t.Fatalf("empty message in %+v", e)
			}
		}
		for _, o := range objs {
			// A StorageClass is cluster-scoped: only it has no namespace.
			if o.Name == "" || (o.Namespace == "") != (o.Kind == KindStorageClass) || o.File != "fuzz.yaml" {
				t.Fatalf("bad object %+v", o)
			}
		}
	})
}
