// promrules checks the alerting rules of every PrometheusRule in a multi-document
// YAML stream (stdin) the way `promtool check rules` does: Prometheus's own rule
// file parser (model/rulefmt) over each object's spec, which parses every PromQL
// expression and every annotation and label template. It also requires what
// k6-gate's alerts promise: a severity label, a summary and a runbook_url.
//
// Usage: kustomize build k8s/overlays/example | promrules
//        helm template k6-gate charts/k6-gate --set metrics.prometheusRule.enabled=true | promrules
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"gopkg.in/yaml.v3"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "promrules:", err)
		os.Exit(1)
	}
}

type object struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec yaml.Node `yaml:"spec"`
}

func run(in io.Reader, out io.Writer) error {
	decoder := yaml.NewDecoder(bufio.NewReader(in))
	var problems []error
	objects, rules := 0, 0
	for {
		var obj object
		err := decoder.Decode(&obj)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if obj.Kind != "PrometheusRule" {
			continue
		}
		objects++
		spec, err := yaml.Marshal(&obj.Spec)
		if err != nil {
			return err
		}
		groups, errs := rulefmt.Parse(spec, false, model.UTF8Validation)
		for _, e := range errs {
			problems = append(problems, fmt.Errorf("PrometheusRule/%s: %w", obj.Metadata.Name, e))
		}
		if groups == nil {
			continue
		}
		for _, group := range groups.Groups {
			for _, rule := range group.Rules {
				rules++
				if rule.Alert == "" {
					continue
				}
				where := fmt.Sprintf("PrometheusRule/%s alert %s", obj.Metadata.Name, rule.Alert)
				if rule.Labels["severity"] == "" {
					problems = append(problems, fmt.Errorf("%s: no severity label", where))
				}
				for _, key := range []string{"summary", "runbook_url"} {
					if rule.Annotations[key] == "" {
						problems = append(problems, fmt.Errorf("%s: no %s annotation", where, key))
					}
				}
			}
		}
	}
	if len(problems) > 0 {
		return errors.Join(problems...)
	}
	if objects == 0 {
		return errors.New("no PrometheusRule in the input")
	}
	fmt.Fprintf(out, "promrules: %d PrometheusRule objects, %d rules: SUCCESS\n", objects, rules)
	return nil
}
