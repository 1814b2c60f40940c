//go:build tools

// Package tools pins modules that berth packages are about to use, so that
// parallel work never races on go.mod. Removed once every module is imported
// by real code.
package tools

import (
	_ "github.com/ProtonMail/go-crypto/openpgp"
	_ "github.com/containerd/containerd"
	_ "github.com/containerd/containerd/pkg/netns"
	_ "github.com/containernetworking/cni/libcni"
	_ "github.com/go-git/go-git/v5"
	_ "github.com/google/go-containerregistry/pkg/v1/remote"
	_ "github.com/hiddeco/sshsig"
	_ "github.com/robfig/cron/v3"
	_ "github.com/spf13/cobra"
	_ "go.etcd.io/bbolt"
	_ "golang.org/x/crypto/ssh"
	_ "k8s.io/api/core/v1"
	_ "k8s.io/apimachinery/pkg/api/resource"
	_ "k8s.io/apimachinery/pkg/util/validation"
	_ "k8s.io/utils/clock"
	_ "k8s.io/utils/clock/testing"
	_ "pgregory.net/rapid"
	_ "sigs.k8s.io/yaml"
)
