package manifest

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestServiceValidation(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string // substring of the error list; "" means valid
	}{
		{name: "minimal ClusterIP", yaml: `
spec:
  selector: {app: web}
  ports: [{port: 80}]`},
		{name: "headless without ports", yaml: `
spec:
  clusterIP: None
  selector: {app: web}`},
		{name: "NodePort with a written port", yaml: `
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, nodePort: 30080}]`},
		{name: "selectorless", yaml: `
spec:
  ports: [{port: 80}]`},
		{name: "LoadBalancer is refused", yaml: `
spec:
  type: LoadBalancer
  ports: [{port: 80}]`, wantErr: `t.yaml:5: spec.type: Unsupported value: "LoadBalancer": supported values: "ClusterIP", "NodePort"`},
		{name: "ports required", yaml: `
spec:
  selector: {app: web}`, wantErr: "spec.ports: Required value"},
		{name: "several ports need names", yaml: `
spec:
  ports: [{port: 80}, {name: b, port: 81}]`, wantErr: "spec.ports[0].name: Required value"},
		{name: "duplicate port and protocol", yaml: `
spec:
  ports: [{name: a, port: 80}, {name: b, port: 80, protocol: TCP}]`, wantErr: `spec.ports[1]: Duplicate value: "80/TCP"`},
		{name: "same port on UDP is fine", yaml: `
spec:
  ports: [{name: a, port: 53}, {name: b, port: 53, protocol: UDP}]`},
		{name: "SCTP is refused", yaml: `
spec:
  ports: [{port: 80, protocol: SCTP}]`, wantErr: `spec.ports[0].protocol: Unsupported value: "SCTP"`},
		{name: "nodePort on ClusterIP", yaml: `
spec:
  ports: [{port: 80, nodePort: 30080}]`, wantErr: "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"},
		{name: "nodePort out of range", yaml: `
spec:
  type: NodePort
  ports: [{port: 80, nodePort: 8080}]`, wantErr: "The range of valid ports is 30000-32767"},
		{name: "headless NodePort", yaml: `
spec:
  type: NodePort
  clusterIP: None
  ports: [{port: 80}]`, wantErr: "may not be set to 'None' for NodePort services"},
		{name: "bad clusterIP", yaml: `
spec:
  clusterIP: 10.0.0.300
  ports: [{port: 80}]`, wantErr: "spec.clusterIP: Invalid value"},
		{name: "bad targetPort name", yaml: `
spec:
  ports: [{port: 80, targetPort: "no_such-"}]`, wantErr: "spec.ports[0].targetPort: Invalid value"},
		{name: "bad sessionAffinity", yaml: `
spec:
  sessionAffinity: Sticky
  ports: [{port: 80}]`, wantErr: `spec.sessionAffinity: Unsupported value: "Sticky"`},
		{name: "affinity timeout too long", yaml: `
spec:
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 90000}}
  ports: [{port: 80}]`, wantErr: "timeoutSeconds: Invalid value: 90000"},
		{name: "unsupported field named", yaml: `
spec:
  externalTrafficPolicy: Local
  ports: [{port: 80}]`, wantErr: "spec.externalTrafficPolicy: not supported by berth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "apiVersion: v1\nkind: Service\nmetadata: {name: web}" + tt.yaml + "\n"
			objs, errs := DecodeFile("t.yaml", []byte(doc))
			if tt.wantErr == "" {
				if len(errs) > 0 {
					t.Fatalf("want valid, got:\n%v", errs)
				}
				if len(objs) != 1 || objs[0].Service == nil {
					t.Fatalf("want one Service, got %+v", objs)
				}
				return
			}
			if !strings.Contains(errs.Error(), tt.wantErr) {
				t.Fatalf("want an error containing %q, got:\n%v", tt.wantErr, errs)
			}
		})
	}
}

func TestServiceNameMustBeDNS1035(t *testing.T) {
	_, errs := DecodeFile("t.yaml", []byte("apiVersion: v1\nkind: Service\nmetadata: {name: 1web}\nspec: {ports: [{port: 80}]}\n"))
	if !strings.Contains(errs.Error(), "metadata.name: Invalid value") {
		t.Fatalf("a name starting with a digit must be refused, got %v", errs)
	}
}

func TestServiceDefaults(t *testing.T) {
	objs, errs := DecodeFile("t.yaml", []byte(`apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  sessionAffinity: ClientIP
  ports: [{name: http, port: 80}, {name: dns, port: 53, protocol: UDP, targetPort: dns}]
`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	s := objs[0].Service
	if s.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("type = %q, want ClusterIP", s.Spec.Type)
	}
	if got := s.Spec.Ports[0]; got.Protocol != corev1.ProtocolTCP || got.TargetPort != intstr.FromInt32(80) {
		t.Errorf("port 0 = %+v, want TCP with targetPort 80", got)
	}
	if got := s.Spec.Ports[1].TargetPort; got != intstr.FromString("dns") {
		t.Errorf("named targetPort changed to %v", got)
	}
	if got := *s.Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds; got != 10800 {
		t.Errorf("ClientIP timeout = %d, want 10800", got)
	}
	if objs[0].Namespace != "default" || s.Kind != "Service" {
		t.Errorf("namespace %q kind %q", objs[0].Namespace, s.Kind)
	}
}

func TestPodDNSValidation(t *testing.T) {
	tests := []struct {
		name    string
		spec    string
		wantErr string
	}{
		{name: "ClusterFirst", spec: "dnsPolicy: ClusterFirst"},
		{name: "None with config", spec: "dnsPolicy: None\n  dnsConfig: {nameservers: [198.18.0.10], searches: [a.b], options: [{name: ndots, value: \"2\"}]}"},
		{name: "None without config", spec: "dnsPolicy: None", wantErr: "spec.dnsConfig: Required value"},
		{name: "ClusterFirstWithHostNet refused", spec: "dnsPolicy: ClusterFirstWithHostNet", wantErr: `spec.dnsPolicy: Forbidden: not supported by berth: ClusterFirstWithHostNet`},
		{name: "bad nameserver", spec: "dnsConfig: {nameservers: [x]}", wantErr: "spec.dnsConfig.nameservers[0]: Invalid value"},
		{name: "bad subdomain", spec: "subdomain: A_B", wantErr: "spec.subdomain: Invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: busybox:1}]\n  " + tt.spec + "\n"
			_, errs := DecodeFile("t.yaml", []byte(doc))
			if tt.wantErr == "" && len(errs) > 0 {
				t.Fatalf("want valid, got %v", errs)
			}
			if tt.wantErr != "" && !strings.Contains(errs.Error(), tt.wantErr) {
				t.Fatalf("want %q, got %v", tt.wantErr, errs)
			}
		})
	}
}
