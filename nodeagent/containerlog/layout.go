package containerlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrBadName marks a namespace, pod, UID or container name that cannot
// become a path component here.
var ErrBadName = errors.New("name not usable in a log path")

// ErrNotFound marks logs that do not exist: no such pod directory,
// container or attempt.
var ErrNotFound = errors.New("logs not found")

// Pod names one pod's log directory.
type Pod struct {
	Namespace string
	Name      string
	UID       string
}

// checkPart refuses what could escape the log dir or confuse the layout:
// empty, ".", "..", path separators, NUL, and (for namespace and pod,
// whose join uses it) "_".
func checkPart(what, s string, noUnderscore bool) error {
	bad := s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\x00") ||
		(noUnderscore && strings.Contains(s, "_"))
	if bad {
		return fmt.Errorf("%w: %s %q", ErrBadName, what, s)
	}
	return nil
}

func (p Pod) check() error {
	return errors.Join(
		checkPart("namespace", p.Namespace, true),
		checkPart("pod", p.Name, true),
		checkPart("pod UID", p.UID, false),
	)
}

// Dir is the pod's log directory under logDir.
func (p Pod) Dir(logDir string) (string, error) {
	if err := p.check(); err != nil {
		return "", err
	}
	return filepath.Join(logDir, p.Namespace+"_"+p.Name+"_"+p.UID), nil
}

// ContainerDir is the directory of one container's attempts.
func (p Pod) ContainerDir(logDir, container string) (string, error) {
	dir, err := p.Dir(logDir)
	if err != nil {
		return "", err
	}
	if err := checkPart("container", container, false); err != nil {
		return "", err
	}
	return filepath.Join(dir, container), nil
}

// Path is the log file of one attempt (0 for the first run, then the
// restart count).
func (p Pod) Path(logDir, container string, attempt int) (string, error) {
	dir, err := p.ContainerDir(logDir, container)
	if err != nil {
		return "", err
	}
	if attempt < 0 {
		return "", fmt.Errorf("%w: attempt %d", ErrBadName, attempt)
	}
	return filepath.Join(dir, strconv.Itoa(attempt)+".log"), nil
}

// ParsePodDir reads a pod directory's name back into its parts.
func ParsePodDir(name string) (Pod, error) {
	parts := strings.SplitN(name, "_", 3)
	if len(parts) != 3 {
		return Pod{}, fmt.Errorf("%w: %q is not <namespace>_<pod>_<uid>", ErrBadName, name)
	}
	p := Pod{Namespace: parts[0], Name: parts[1], UID: parts[2]}
	if err := p.check(); err != nil {
		return Pod{}, err
	}
	return p, nil
}

// Pods lists the pods that have a log directory under logDir. Entries
// that do not parse are skipped; a missing logDir is empty.
func Pods(logDir string) ([]Pod, error) {
	entries, err := os.ReadDir(logDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list logs: %w", err)
	}
	var pods []Pod
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if p, err := ParsePodDir(e.Name()); err == nil {
			pods = append(pods, p)
		}
	}
	return pods, nil
}

// FindPod returns the log directory of the pod namespace/name. When the
// pod was recreated and several UIDs have logs, the most recently written
// one wins.
func FindPod(logDir, namespace, name string) (Pod, error) {
	pods, err := Pods(logDir)
	if err != nil {
		return Pod{}, err
	}
	var best Pod
	var bestTime int64
	found := false
	for _, p := range pods {
		if p.Namespace != namespace || p.Name != name {
			continue
		}
		dir, _ := p.Dir(logDir)
		st, err := os.Stat(dir)
		if err != nil {
			continue
		}
		if !found || st.ModTime().UnixNano() > bestTime {
			best, bestTime, found = p, st.ModTime().UnixNano(), true
		}
	}
	if !found {
		return Pod{}, fmt.Errorf("%w: pod %s/%s", ErrNotFound, namespace, name)
	}
	return best, nil
}

// Containers lists the containers with logs in the pod's directory,
// sorted.
func (p Pod) Containers(logDir string) ([]string, error) {
	dir, err := p.Dir(logDir)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: pod %s/%s", ErrNotFound, p.Namespace, p.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Attempts lists the attempts with a log in a container directory, in
// ascending order.
func Attempts(containerDir string) ([]int, error) {
	entries, err := os.ReadDir(containerDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	var out []int
	for _, e := range entries {
		num, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(num); err == nil && n >= 0 && strconv.Itoa(n) == num {
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out, nil
}

// RemovePod deletes the pod's log directory and everything in it. A pod
// without logs is not an error.
func RemovePod(logDir string, p Pod) error {
	dir, err := p.Dir(logDir)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove logs of %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}
