// Command keda-scaler evaluates the triggers of a KEDA ScaledObject with KEDA's own
// scaler code (github.com/kedacore/keda/v2/pkg/scalers, the version go.mod pins), the
// way KEDA's operator does on each polling interval: it builds each trigger's scaler from
// the trigger's metadata and metricType (pkg/scaling/scalers_builder.go), asks it for the
// metric spec it gives the HPA (GetMetricSpecForScaling) and for the metric value and
// activity (GetMetricsAndActivity), and prints them as JSON. k6-gate's tests use it to
// evaluate the rendered chart's ScaledObject against a live queue (design §8).
//
// Usage: keda-scaler < scaledobject.{json,yaml}
//
// The ScaledObject (one object, JSON or YAML) is decoded strictly into KEDA's Go type.
// Only `metrics-api` triggers are built (the one k6-gate ships): any other type, or a
// trigger that needs a TriggerAuthentication, pod environment or the Kubernetes API, is an
// error. Output (stdout, exit 0):
//
//	{"triggers":[{"name":"runs","type":"metrics-api","metricName":"s0-metric-api-runs",
//	  "targetType":"AverageValue","target":1,"value":11,"active":true}]}
//
// A trigger whose scaler fails (the endpoint down, a wrong valueLocation) prints
// {"error": "..."} in place of value and active, still exit 0: that is a poll KEDA counts
// as failed. Bad input exits 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/go-logr/logr"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/kedacore/keda/v2/pkg/scalers"
	"github.com/kedacore/keda/v2/pkg/scalers/scalersconfig"
	v2 "k8s.io/api/autoscaling/v2"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"
)

// globalHTTPTimeout is KEDA's default KEDA_HTTP_DEFAULT_TIMEOUT (cmd/operator/main.go).
const globalHTTPTimeout = 3000 * time.Millisecond

type triggerResult struct {
	Name       string   `json:"name"`
	Type       string   `json:"type"`
	MetricName string   `json:"metricName"`
	TargetType string   `json:"targetType"`
	Target     float64  `json:"target"`
	Value      *float64 `json:"value,omitempty"`
	Active     *bool    `json:"active,omitempty"`
	Error      string   `json:"error,omitempty"`
}

func main() {
	logf.SetLogger(logr.Discard())
	results, err := run(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "keda-scaler:", err)
		os.Exit(1)
	}
	out, _ := json.Marshal(map[string]any{"triggers": results})
	fmt.Println(string(out))
}

func run(in io.Reader) ([]triggerResult, error) {
	raw, err := io.ReadAll(in)
	if err != nil {
		return nil, err
	}
	var so kedav1alpha1.ScaledObject
	if err := yaml.UnmarshalStrict(raw, &so); err != nil {
		return nil, fmt.Errorf("not a ScaledObject: %w", err)
	}
	if so.Kind != "ScaledObject" {
		return nil, fmt.Errorf("kind %q, want ScaledObject", so.Kind)
	}
	if len(so.Spec.Triggers) == 0 {
		return nil, errors.New("the ScaledObject has no triggers")
	}
	results := make([]triggerResult, 0, len(so.Spec.Triggers))
	for i, trigger := range so.Spec.Triggers {
		result, err := evaluate(&so, i, trigger)
		if err != nil {
			return nil, fmt.Errorf("trigger %d (%s): %w", i, trigger.Name, err)
		}
		results = append(results, result)
	}
	return results, nil
}

// evaluate builds one trigger's scaler as KEDA's scale handler does and polls it once.
func evaluate(so *kedav1alpha1.ScaledObject, index int, trigger kedav1alpha1.ScaleTriggers) (triggerResult, error) {
	if trigger.Type != "metrics-api" {
		return triggerResult{}, fmt.Errorf("type %q: only metrics-api is built here", trigger.Type)
	}
	if trigger.AuthenticationRef != nil {
		return triggerResult{}, errors.New("authenticationRef needs the Kubernetes API")
	}
	config := &scalersconfig.ScalerConfig{
		ScalableObjectName:      so.Name,
		ScalableObjectNamespace: so.Namespace,
		ScalableObjectType:      so.Kind,
		TriggerName:             trigger.Name,
		TriggerMetadata:         trigger.Metadata,
		TriggerType:             trigger.Type,
		TriggerUseCachedMetrics: trigger.UseCachedMetrics,
		ResolvedEnv:             map[string]string{},
		AuthParams:              map[string]string{},
		GlobalHTTPTimeout:       globalHTTPTimeout,
		TriggerIndex:            index,
		MetricType:              trigger.MetricType,
		// scalingModifiers turn triggers into metric sources of a composite metric.
		AsMetricSource: so.IsUsingModifiers(),
		ScaledObject:   so,
	}
	// No Kubernetes client: only aggregateFromKubeServiceEndpoints would use it.
	scaler, err := scalers.NewMetricsAPIScaler(config, nil)
	if err != nil {
		return triggerResult{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*globalHTTPTimeout)
	defer cancel()
	defer scaler.Close(ctx)

	specs := scaler.GetMetricSpecForScaling(ctx)
	if len(specs) != 1 || specs[0].External == nil {
		return triggerResult{}, fmt.Errorf("expected one External metric spec, got %d", len(specs))
	}
	external := specs[0].External
	result := triggerResult{
		Name:       trigger.Name,
		Type:       trigger.Type,
		MetricName: external.Metric.Name,
		TargetType: string(external.Target.Type),
		Target:     targetOf(external.Target),
	}
	metrics, active, err := scaler.GetMetricsAndActivity(ctx, external.Metric.Name)
	if err != nil {
		result.Error = err.Error()
		return result, nil
	}
	if len(metrics) != 1 {
		return triggerResult{}, fmt.Errorf("expected one metric value, got %d", len(metrics))
	}
	value := metrics[0].Value.AsApproximateFloat64()
	result.Value, result.Active = &value, &active
	return result, nil
}

func targetOf(target v2.MetricTarget) float64 {
	switch {
	case target.AverageValue != nil:
		return target.AverageValue.AsApproximateFloat64()
	case target.Value != nil:
		return target.Value.AsApproximateFloat64()
	}
	return 0
}
