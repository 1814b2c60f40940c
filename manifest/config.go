package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// ConfigFile is the name of the repository's berth settings, read from the
// root of the manifests path by the server and by berth validate alike.
const ConfigFile = ".berth.yaml"

// Config is .berth.yaml. Every key is checked: an unknown one is an error
// naming its line, as in a manifest.
//
//	skipKinds: [Ingress, HorizontalPodAutoscaler]
//	helm:
//	  releaseName: guestbook          # default: the chart directory's name
//	  namespace: web                  # default: "default"
//	  valuesFiles: [values-production.yaml]   # relative to the chart
//	  values: {replicaCount: 2}       # applied last, as helm --set-json
//	  charts:                         # per chart directory (relative to
//	    apps/redis:                   # the manifests path): replaces the
//	      releaseName: cache          # keys it sets, keeps the others
type Config struct {
	// SkipKinds are kinds berth does not run that the repository holds on
	// purpose (for another controller): their objects are decoded, listed
	// as skipped, and not run.
	SkipKinds []string `yaml:"skipKinds" json:"skipKinds,omitempty"`
	// Helm sets how charts are rendered.
	Helm *HelmConfig `yaml:"helm" json:"helm,omitempty"`
}

// HelmSettings are the inputs of one chart's render besides the chart.
type HelmSettings struct {
	// ReleaseName is .Release.Name (default: the chart directory's name).
	ReleaseName string `yaml:"releaseName" json:"releaseName,omitempty"`
	// Namespace is .Release.Namespace (default: "default").
	Namespace string `yaml:"namespace" json:"namespace,omitempty"`
	// ValuesFiles are merged over the chart's values.yaml in order, as
	// helm template -f does; paths are relative to the chart directory.
	ValuesFiles []string `yaml:"valuesFiles" json:"valuesFiles,omitempty"`
	// Values are merged last.
	Values map[string]any `yaml:"values" json:"values,omitempty"`
}

// HelmConfig is the helm: section: settings for every chart, and per
// chart directory settings that replace the keys they set.
type HelmConfig struct {
	HelmSettings `yaml:",inline"`
	Charts       map[string]HelmSettings `yaml:"charts" json:"charts,omitempty"`
}

// HelmFor returns the settings for the chart in dir (relative to the
// manifests path), with defaults filled in.
func (c Config) HelmFor(dir string) HelmSettings {
	var s HelmSettings
	if c.Helm != nil {
		s = c.Helm.HelmSettings
		if o, ok := c.Helm.Charts[dir]; ok {
			if o.ReleaseName != "" {
				s.ReleaseName = o.ReleaseName
			}
			if o.Namespace != "" {
				s.Namespace = o.Namespace
			}
			if o.ValuesFiles != nil {
				s.ValuesFiles = o.ValuesFiles
			}
			if o.Values != nil {
				s.Values = o.Values
			}
		}
	}
	if s.ReleaseName == "" {
		s.ReleaseName = path.Base(dir)
		if dir == "." {
			s.ReleaseName = "release"
		}
	}
	if s.Namespace == "" {
		s.Namespace = DefaultNamespace
	}
	return s
}

func (c Config) skipSet() map[string]bool {
	if len(c.SkipKinds) == 0 {
		return nil
	}
	m := make(map[string]bool, len(c.SkipKinds))
	for _, k := range c.SkipKinds {
		m[k] = true
	}
	return m
}

// skipKey names the skip set in the decode cache.
func (c Config) skipKey() string {
	k := append([]string(nil), c.SkipKinds...)
	sort.Strings(k)
	return strings.Join(k, ",")
}

var yamlErrLineRE = regexp.MustCompile(`line (\d+): (.*)`)

// ReadConfig reads .berth.yaml under dir of fsys; a missing file is the
// zero Config. Problems name .berth.yaml and a line.
func ReadConfig(fsys fs.FS, dir string) (Config, ErrorList) {
	data, err := ReadFile(fsys, path.Join(dir, ConfigFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, ErrorList{{File: ConfigFile, Message: err.Error()}}
	}
	return ParseConfig(data)
}

// ParseConfig decodes .berth.yaml strictly.
func ParseConfig(data []byte) (Config, ErrorList) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			var errs ErrorList
			for _, m := range te.Errors {
				errs = append(errs, configError(m))
			}
			return Config{}, errs
		}
		return Config{}, ErrorList{configError(strings.TrimPrefix(err.Error(), "yaml: "))}
	}
	var errs ErrorList
	for i, k := range c.SkipKinds {
		if Runs(k) {
			errs = append(errs, &Error{File: ConfigFile, Field: fmt.Sprintf("skipKinds[%d]", i),
				Message: fmt.Sprintf("berth runs %s; only kinds it does not run can be skipped", k)})
		}
		if k == "" {
			errs = append(errs, &Error{File: ConfigFile, Field: fmt.Sprintf("skipKinds[%d]", i), Message: "Required value: a kind"})
		}
	}
	if c.Helm != nil {
		for dir, s := range c.Helm.Charts {
			errs = append(errs, checkValuesFiles(fmt.Sprintf("helm.charts[%s]", dir), s.ValuesFiles)...)
		}
		errs = append(errs, checkValuesFiles("helm", c.Helm.ValuesFiles)...)
	}
	errs.Sort()
	return c, errs
}

func checkValuesFiles(field string, files []string) ErrorList {
	var errs ErrorList
	for i, f := range files {
		if f == "" || path.IsAbs(f) || strings.Contains(f, "://") {
			errs = append(errs, &Error{File: ConfigFile, Field: fmt.Sprintf("%s.valuesFiles[%d]", field, i),
				Message: fmt.Sprintf("%q: a values file is a path inside the repository, relative to the chart", f)})
		}
	}
	return errs
}

// configError turns "line 3: field foo not found in type manifest.Config"
// into an Error on that line.
func configError(msg string) *Error {
	e := &Error{File: ConfigFile, Message: msg}
	if m := yamlErrLineRE.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Message = m[2]
	}
	if f, ok := strings.CutPrefix(e.Message, "field "); ok {
		if name, _, ok := strings.Cut(f, " not found in type"); ok {
			e.Message = fmt.Sprintf("unknown field %q", name)
		}
	}
	return e
}

// Runs reports whether berth runs objects of kind (a kind it does not run
// is refused, or listed as skipped when .berth.yaml says so).
func Runs(kind string) bool {
	_, ok := kinds[Kind(kind)]
	return ok
}
