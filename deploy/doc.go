// Package deploy holds no code: its tests check the deployment files next
// to it. The manifests under kubernetes/ are decoded strictly into the
// Kubernetes API types (an unknown or misspelt field fails), and the image
// the DaemonSet names is built from the repository's Containerfile with
// podman and its binary run with the DaemonSet's arguments. It is a module
// of its own so that flatline gains no Kubernetes dependency.
//
//	cd deploy && go test ./...
package deploy
