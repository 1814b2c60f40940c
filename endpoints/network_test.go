package endpoints

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/api"
)

func TestNetwork(t *testing.T) {
	web := service(nil)
	db := service(func(s *corev1.ServiceSpec) { s.Selector = map[string]string{"app": "db"} })
	db.Name = "db"
	pods := []*corev1.Pod{pod("a", "198.18.1.2", ready), pod("b", "198.18.1.3", ready, labelled("app", "db"))}
	nodes := []api.NodeNetwork{{Name: "n2"}, {Name: "n1"}}
	st := Network(NetworkConfig{ClusterDNS: "198.19.0.10"}, []*corev1.Service{web, db}, pods, nodes)
	if st.Services[0].Name != "db" || st.Services[1].Name != "web" {
		t.Errorf("Services not sorted: %s, %s", st.Services[0].Name, st.Services[1].Name)
	}
	if len(st.EndpointSlices) != 2 || st.EndpointSlices[0].Endpoints[0].Addresses[0] != "198.18.1.3" {
		t.Errorf("slices %+v", st.EndpointSlices)
	}
	if st.Nodes[0].Name != "n1" || nodes[0].Name != "n2" {
		t.Error("nodes not sorted, or the caller's slice was reordered")
	}
	again := Network(NetworkConfig{ClusterDNS: "198.19.0.10"}, []*corev1.Service{db, web}, []*corev1.Pod{pods[1], pods[0]}, nodes)
	if !reflect.DeepEqual(st, again) {
		t.Error("the order of inputs changed the state")
	}
}
