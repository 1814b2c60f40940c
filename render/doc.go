// Package render turns the directories of a repository that are not plain
// manifests into YAML, in process: kustomization roots with kustomize's
// krusty (sigs.k8s.io/kustomize/api) and Helm charts with Helm's chart
// loader and template engine (helm.sh/helm/v3: v4's chart package
// imports "testing", which the shipped binary must not). It implements
// manifest.Renderer, so the server (gitsource, over a commit's tree) and
// berth validate (over a directory) render identically.
//
//	manifest.Loader.Load ── walk ──► plain files ─────────────┐
//	        │                                                  ▼
//	        └─ dirs with kustomization.yaml / Chart.yaml ──► Renderer.Render
//	              per root: cached result still fresh? ── yes ─► reuse
//	                         no ─► treeFS (read-only, no symlinks, bounded,
//	                               every path noted with its blob hash)
//	                               ├─ kustomize: origin annotations on,
//	                               │  remote bases / plugins refused
//	                               └─ helm: vendored charts only, hooks decided
//	              ──► one RenderedFile per object, named after its source
//	                   ──► manifest decodes and validates like any file
//
// Nothing here reaches the network, runs a program or reads outside the
// tree it is given; a render has bounds on time, input and output.
package render
