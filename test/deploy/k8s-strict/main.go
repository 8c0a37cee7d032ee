// k8s-strict decodes every object of a multi-document YAML stream (stdin) into
// the Go types of the Kubernetes API, strictly: an unknown or duplicated field,
// a wrong type, or an unknown apiVersion/kind of a built-in group is an error.
// That is what `kubectl apply` would reject with "unknown field", checked
// without an API server. Custom resources whose Go types are registered here
// (prometheus-operator's ServiceMonitor/PodMonitor, KEDA's ScaledObject and
// TriggerAuthentication, Flagger's Canary) are checked the same way; a
// ScaledObject also goes through KEDA's own offline validators (what its
// admission webhook runs without a cluster: triggers, replica bounds, fallback,
// the scalingModifiers formula). Objects of other groups are listed as not checked.
//
// Usage: kustomize build k8s/base | go run ./test/deploy/k8s-strict
//        helm template k6-gate charts/k6-gate | go run ./test/deploy/k8s-strict
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	flaggerv1beta1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "k8s-strict:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	s := runtime.NewScheme()
	if err := scheme.AddToScheme(s); err != nil {
		return err
	}
	if err := monitoringv1.AddToScheme(s); err != nil {
		return err
	}
	if err := flaggerv1beta1.AddToScheme(s); err != nil {
		return err
	}
	if err := kedav1alpha1.AddToScheme(s); err != nil {
		return err
	}
	decoder := serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer()

	reader := utilyaml.NewYAMLReader(bufio.NewReader(in))
	var problems []error
	checked, skipped := 0, 0
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			problems = append(problems, fmt.Errorf("document %d: %w", checked+skipped+1, err))
			continue
		}
		id := fmt.Sprintf("%s %s/%s", meta.APIVersion, meta.Kind, meta.Metadata.Name)
		gvk := schema.FromAPIVersionAndKind(meta.APIVersion, meta.Kind)
		if !s.Recognizes(gvk) {
			if s.IsGroupRegistered(gvk.Group) {
				problems = append(problems, fmt.Errorf("%s: unknown kind or version of a built-in API group", id))
				continue
			}
			fmt.Fprintf(out, "not checked (no Go types here): %s\n", id)
			skipped++
			continue
		}
		obj, _, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", id, err))
			continue
		}
		if so, ok := obj.(*kedav1alpha1.ScaledObject); ok {
			if err := validateScaledObject(so); err != nil {
				problems = append(problems, fmt.Errorf("%s: %w", id, err))
				continue
			}
		}
		checked++
	}
	fmt.Fprintf(out, "strictly decoded %d objects, %d not checked\n", checked, skipped)
	return errors.Join(problems...)
}

// validateScaledObject runs the checks of KEDA's admission webhook that need no
// cluster (the rest look up the scale target and other ScaledObjects/HPAs).
func validateScaledObject(so *kedav1alpha1.ScaledObject) error {
	if err := kedav1alpha1.ValidateTriggers(so.Spec.Triggers); err != nil {
		return err
	}
	if err := kedav1alpha1.CheckReplicaCountBoundsAreValid(so); err != nil {
		return err
	}
	if err := kedav1alpha1.CheckFallbackValid(so); err != nil {
		return err
	}
	if so.IsUsingModifiers() {
		if _, err := kedav1alpha1.ValidateAndCompileScalingModifiers(so); err != nil {
			return err
		}
	}
	return nil
}
