package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// ImageRepository is where flatline's images are published, one tag per
// release (vX.Y.Z, the module's version tag): docs/deploy.md.
const ImageRepository = "ghcr.io/flatline-dev/flatline"

var imageTag = regexp.MustCompile(`^` + regexp.QuoteMeta(ImageRepository) + `:v[0-9]+\.[0-9]+\.[0-9]+$`)

// strict decodes a YAML document into obj as the API server's strict
// field validation does: duplicate keys, unknown fields and fields spelt
// in another case ("hostPid") are errors. (sigs.k8s.io/yaml.UnmarshalStrict
// alone goes through encoding/json, which matches field names without
// regard to case.)
func strict(doc []byte, obj any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	problems, err := kjson.UnmarshalStrict(j, obj)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return errors.Join(problems...)
	}
	return nil
}

// kinds are the API types a manifest here may hold.
func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + "/" + kind {
	case "v1/Namespace":
		return &corev1.Namespace{}, nil
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "v1/Service":
		return &corev1.Service{}, nil
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "apps/v1/DaemonSet":
		return &appsv1.DaemonSet{}, nil
	case "rbac.authorization.k8s.io/v1/ClusterRole":
		return &rbacv1.ClusterRole{}, nil
	case "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
		return &rbacv1.ClusterRoleBinding{}, nil
	}
	return nil, fmt.Errorf("apiVersion %q kind %q: not a type this check knows (add it to newObject)", apiVersion, kind)
}

// documents splits a YAML stream at its "---" lines, dropping empty ones.
func documents(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---[ \t]*$`).Split(string(data), -1) {
		if len(bytes.TrimSpace(stripComments([]byte(d)))) > 0 {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

func stripComments(b []byte) []byte {
	return regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAll(b, nil)
}

// decode strictly decodes every manifest under dir.
func decode(t *testing.T, dir string) []any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests under %s: %v", dir, err)
	}
	var objs []any
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range documents(data) {
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Errorf("%s, document %d: %v", f, i+1, err)
				continue
			}
			obj, err := newObject(tm.APIVersion, tm.Kind)
			if err != nil {
				t.Errorf("%s, document %d: %v", f, i+1, err)
				continue
			}
			if err := strict(doc, obj); err != nil {
				t.Errorf("%s, document %d (%s): %v", f, i+1, tm.Kind, err)
				continue
			}
			objs = append(objs, obj)
		}
	}
	return objs
}

// TestManifestsStrict: every manifest decodes into its API type with no
// unknown or duplicate field, and the DaemonSet is consistent: its
// selector matches its pods, it runs the published image, and it mounts
// what it declares.
func TestManifestsStrict(t *testing.T) {
	objs := decode(t, "kubernetes")
	var daemonSets int
	for _, o := range objs {
		ds, ok := o.(*appsv1.DaemonSet)
		if !ok {
			continue
		}
		daemonSets++
		checkDaemonSet(t, ds)
	}
	if daemonSets == 0 {
		t.Error("no DaemonSet under kubernetes/")
	}
}

func checkDaemonSet(t *testing.T, ds *appsv1.DaemonSet) {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(ds.Spec.Template.Labels)) {
		t.Errorf("DaemonSet %s: selector %v does not select its pods (%v): %v", ds.Name, ds.Spec.Selector, ds.Spec.Template.Labels, err)
	}
	volumes := map[string]bool{}
	for _, v := range ds.Spec.Template.Spec.Volumes {
		volumes[v.Name] = true
	}
	for _, c := range ds.Spec.Template.Spec.Containers {
		if !imageTag.MatchString(c.Image) {
			t.Errorf("DaemonSet %s, container %s: image %q, want %s:vX.Y.Z (the release's tag)", ds.Name, c.Name, c.Image, ImageRepository)
		}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				t.Errorf("DaemonSet %s, container %s: mounts %q, which is not a volume of the pod", ds.Name, c.Name, m.Name)
			}
		}
	}
}

// TestStrictDecodingRejects: the check fails on what it is for: a field
// spelt in another case, a misspelt field, a duplicate key.
func TestStrictDecodingRejects(t *testing.T) {
	for _, doc := range []string{
		"apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      hostPid: true\n",
		"apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: x}\nautomountServiceAccountTokens: false\n",
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\nmetadata: {name: y}\n",
	} {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatal(err)
		}
		obj, err := newObject(tm.APIVersion, tm.Kind)
		if err != nil {
			t.Fatal(err)
		}
		if err := strict([]byte(doc), obj); err == nil {
			t.Errorf("strict decoding accepted %q", doc)
		}
	}
}
