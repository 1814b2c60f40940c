package nodeagent_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func emptyDir(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
}

// The Pod design's two-container pod: one container writes index.html to
// a shared emptyDir, the other serves it.
func TestTwoContainerPodServesSharedFile(t *testing.T) {
	nd := newNode(t, nodeOpts{})
	writer := sh("writer", `echo "hello from berth" > /data/index.html; trap 'exit 0' TERM; while true; do sleep 1; done`)
	writer.VolumeMounts = []corev1.VolumeMount{{Name: "html", MountPath: "/data"}}
	server := corev1.Container{Name: "server", Command: []string{"httpd", "-f", "-p", "80", "-h", "/www"},
		VolumeMounts: []corev1.VolumeMount{{Name: "html", MountPath: "/www", ReadOnly: true}}}
	pod := nd.pod("web", corev1.PodSpec{Volumes: []corev1.Volume{emptyDir("html")}, Containers: []corev1.Container{writer, server}})
	nd.agent.Sync([]*corev1.Pod{pod})
	st := nd.waitFor(pod.UID, 60*time.Second, "running", running)
	if st.Status.PodIP == "" {
		t.Fatal("running pod has no IP")
	}

	var body string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + st.Status.PodIP + "/index.html")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				body = string(b)
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.TrimSpace(body) != "hello from berth" {
		t.Fatalf("GET http://%s/index.html = %q", st.Status.PodIP, body)
	}

	t.Run("both containers see one IP", func(t *testing.T) {
		for _, c := range []string{"writer", "server"} {
			out := nd.exec(st, c, "ip", "-4", "-o", "addr", "show", "eth0")
			if !strings.Contains(out, st.Status.PodIP+"/") {
				t.Errorf("%s sees %q, want %s", c, out, st.Status.PodIP)
			}
		}
	})
	t.Run("localhost reaches the neighbour", func(t *testing.T) {
		out := nd.exec(st, "writer", "wget", "-q", "-O", "-", "http://localhost/index.html")
		if strings.TrimSpace(out) != "hello from berth" {
			t.Fatalf("wget localhost = %q", out)
		}
	})
	t.Run("readOnly mount", func(t *testing.T) {
		_, _, code, err := nd.agent.Exec(t.Context(), string(pod.UID), "server", []string{"sh", "-c", "echo x > /www/x"})
		if err != nil {
			t.Fatal(err)
		}
		if code == 0 {
			t.Fatal("write to a readOnly mount succeeded")
		}
	})
	t.Run("hostname and hosts", func(t *testing.T) {
		if h := strings.TrimSpace(nd.exec(st, "server", "hostname")); h != "web" {
			t.Errorf("hostname %q, want web", h)
		}
		if hosts := nd.exec(st, "server", "cat", "/etc/hosts"); !strings.Contains(hosts, st.Status.PodIP+"\tweb") {
			t.Errorf("/etc/hosts lacks the pod's entry:\n%s", hosts)
		}
	})
}
