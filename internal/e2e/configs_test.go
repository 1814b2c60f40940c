package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
	"github.com/berth-dev/berth/internal/sopstest"
)

// TestConfigsAndSecrets runs issue 12's end-to-end case on real
// containerd with two nodes: a pod reads a ConfigMap through env and a
// volume; the ConfigMap changes in Git and the file changes in place, with
// no restart, while env keeps the value the container started with; a
// SOPS-encrypted Secret (decrypted by the server with <data>/age.key)
// reaches the container as a file and an env var, and its value is found
// nowhere else: not in the store, the server's or agents' logs, the API's
// answers, or the other node's disk.
func TestConfigsAndSecrets(t *testing.T) {
	c := newCluster(t, clusterOptions{
		prefix: "cfg", clusterCIDR: "198.19.120.0/22", nodes: 2,
		interval: time.Second, nodeTimeout: e2eNodeTimeout,
	})
	ctx := context.Background()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.dataDir, "age.key"), []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var rb [12]byte
	if _, err := rand.Read(rb[:]); err != nil {
		t.Fatal(err)
	}
	secret := "pw-" + hex.EncodeToString(rb[:])
	// leaks reports whether text holds the value, as it is or base64.
	leaks := func(text string) bool {
		for _, f := range sopstest.Forms(secret) {
			if strings.Contains(text, f) {
				return true
			}
		}
		return false
	}
	sum := sha256.Sum256([]byte(secret))
	secretSum := hex.EncodeToString(sum[:])
	enc, err := sopstest.Encrypt([]byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: "+secret+"\n"),
		[]*age.X25519Recipient{id.Recipient()}, sopstest.Options{EncryptedRegex: "^(data|stringData)$"})
	if err != nil {
		t.Fatal(err)
	}
	if leaks(string(enc)) {
		t.Fatal("the encrypted Secret holds the value in clear")
	}
	a, b := c.nodes[0], c.nodes[1]
	configMap := func(greeting string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {greeting: " + greeting + "}\n"
	}
	// The container prints what it reads every 200ms; of the secret
	// only digests, so its own log does not hold the value either.
	pod := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  nodeSelector: {kubernetes.io/hostname: %s}
  containers:
  - name: app
    image: "%s:1.35"
    command: [sh, -c, 'while true; do echo "file=$(cat /etc/app/greeting) env=$GREETING sfile=$(sha256sum < /etc/db/password | cut -d" " -f1) senv=$(printf %%s "$PASSWORD" | sha256sum | cut -d" " -f1)"; sleep 0.2; done']
    env:
    - name: GREETING
      valueFrom: {configMapKeyRef: {name: app, key: greeting}}
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: db, key: password}}
    volumeMounts:
    - {name: app, mountPath: /etc/app}
    - {name: db, mountPath: /etc/db}
  volumes:
  - {name: app, configMap: {name: app}}
  - {name: db, secret: {secretName: db}}
`, a.name, c.image)
	sha := c.apply("a pod reading a ConfigMap and a SOPS Secret", map[string]string{
		"pods/app-config.yaml": configMap("hello"),
		"pods/db-secret.yaml":  string(enc),
		"pods/reader.yaml":     pod,
	})
	c.waitApplied(sha)

	var uid string
	logShows := func(want string) func() error {
		return func() error {
			pods, err := c.admin.Pods(ctx, "default")
			if err != nil {
				return err
			}
			var p *corev1.Pod
			for i := range pods.Items {
				if pods.Items[i].Name == "reader" {
					p = &pods.Items[i]
				}
			}
			if p == nil || !isReady(p) {
				return fmt.Errorf("reader not ready: %+v", p)
			}
			if uid == "" {
				uid = string(p.UID)
			}
			if string(p.UID) != uid || len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].RestartCount != 0 {
				return fmt.Errorf("reader replaced or restarted: uid %s (first %s), statuses %+v", p.UID, uid, p.Status.ContainerStatuses)
			}
			rc, err := c.admin.Logs(ctx, "default", "reader", api.LogOptions{})
			if err != nil {
				return err
			}
			defer rc.Close()
			out, err := io.ReadAll(rc)
			if err != nil {
				return err
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if last := lines[len(lines)-1]; last != want {
				return fmt.Errorf("last line %q, want %q", last, want)
			}
			return nil
		}
	}
	secretLine := " sfile=" + secretSum + " senv=" + secretSum
	c.eventually("the pod reads the ConfigMap and the Secret", 2*time.Minute, logShows("file=hello env=hello"+secretLine))

	// The ConfigMap changes in Git: the file follows in place, env keeps
	// what the container started with, the container runs on.
	sha = c.apply("greeting: bonjour", map[string]string{"pods/app-config.yaml": configMap("bonjour")})
	c.waitApplied(sha)
	c.eventually("the volume shows the new greeting, env the old one", time.Minute, logShows("file=bonjour env=hello"+secretLine))

	// A server restart: until it has the revision again, node a's watch is
	// refused rather than answered without the configs; the pod runs on,
	// and the next change still reaches the file in place.
	if err := c.server.stop(syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	c.startServer()
	c.waitApplied(sha)
	sha = c.apply("greeting: hallo", map[string]string{"pods/app-config.yaml": configMap("hallo")})
	c.waitApplied(sha)
	c.eventually("after a server restart the volume follows Git again", time.Minute, logShows("file=hallo env=hello"+secretLine))

	// The value is nowhere but node a's tmpfs.
	where := map[string]string{}
	for _, path := range []string{filepath.Join(c.dataDir, "berth.db"), c.srvLog, a.log, b.log} {
		where[path] = string(readAll(t, path))
	}
	for _, args := range [][]string{
		{"get", "secrets", "-A", "-o", "json"}, {"get", "secret", "db", "-o", "yaml"}, {"describe", "secret", "db"},
		{"get", "pods", "-A", "-o", "json"}, {"describe", "pod", "reader"}, {"status"},
	} {
		out, err := c.berthCLI(args...)
		if err != nil {
			t.Errorf("berth %s: %v: %s", strings.Join(args, " "), err, out)
		}
		where["berth "+strings.Join(args, " ")] = out
	}
	out, err := c.berthCLI("describe", "secret", "db")
	if err == nil && !strings.Contains(out, fmt.Sprintf("password:  %d bytes", len(secret))) {
		t.Errorf("describe secret does not show the key and its size:\n%s", out)
	}
	if l, err := c.admin.Events(ctx, client.EventFilter{}); err == nil {
		j, _ := json.Marshal(l)
		where["events"] = string(j)
	}
	bDir := filepath.Join(c.dir, b.ns)
	err = filepath.WalkDir(bDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if bs, err := os.ReadFile(path); err == nil {
			where[path] = string(bs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// On node a, a file holding the value is on a tmpfs.
	aFiles := 0
	_ = filepath.WalkDir(filepath.Join(c.dir, a.ns), func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		bs, err := os.ReadFile(path)
		if err != nil || !leaks(string(bs)) {
			return nil
		}
		aFiles++
		var st unix.Statfs_t
		if err := unix.Statfs(path, &st); err != nil || st.Type != unix.TMPFS_MAGIC {
			t.Errorf("node a holds the secret's value in %s, not on a tmpfs (fs type %#x, %v)", path, st.Type, err)
		}
		return nil
	})
	if aFiles == 0 {
		t.Errorf("no file under node a's dirs holds the secret, though its pod mounts it")
	}
	for place, text := range where {
		if leaks(text) {
			t.Errorf("the secret's value is in %s", place)
		}
	}
	t.Logf("searched %d places for the secret's value (store, logs, API answers, %s)", len(where), bDir)
}

func readAll(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
