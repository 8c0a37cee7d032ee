package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"sigs.k8s.io/yaml"
)

// revision is one version of the workload: what a new image (or a changed env
// var) does to the Deployment's pod template. Env STATUS and DELAY set how the
// simulated pods of that revision answer HTTP (see cluster.go).
type revision struct {
	Name  string            `json:"name"`
	Image string            `json:"image,omitempty"`
	Env   map[string]string `json:"env,omitempty"`
	// When to apply it: "settled" (default) once Flagger has finished with the
	// previous revision (Initialized, Succeeded or Failed, post-rollout hooks
	// answered); "tested" as soon as the previous revision's pods answer a
	// request (its k6 test is under way), so the template changes while that
	// analysis is going on.
	When string `json:"when,omitempty"`
	// Expected outcome: Succeeded, Failed or Superseded (Initialized for the
	// first revision). Optional; a mismatch makes the program exit 1.
	Expect string `json:"expect,omitempty"`
}

const (
	whenSettled = "settled"
	whenTested  = "tested"

	outcomeInitialized = "Initialized"
	outcomeSucceeded   = "Succeeded"
	outcomeFailed      = "Failed"
	outcomeSuperseded  = "Superseded"
)

func loadRevisions(path string) ([]revision, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var revs []revision
	if err := yaml.UnmarshalStrict(raw, &revs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(revs) < 2 {
		return nil, fmt.Errorf("%s: want the initial revision and at least one more", path)
	}
	seen := map[string]bool{}
	for i := range revs {
		r := &revs[i]
		if r.Name == "" || seen[r.Name] {
			return nil, fmt.Errorf("%s: revision %d: a unique name is required", path, i+1)
		}
		seen[r.Name] = true
		if r.Image == "" {
			r.Image = "registry.example/podinfo:" + r.Name
		}
		if r.When == "" {
			r.When = whenSettled
		}
		if r.When != whenSettled && r.When != whenTested {
			return nil, fmt.Errorf("%s: revision %s: when must be %q or %q", path, r.Name, whenSettled, whenTested)
		}
		if i == 0 && r.Expect == "" {
			r.Expect = outcomeInitialized
		}
		switch r.Expect {
		case "", outcomeInitialized, outcomeSucceeded, outcomeFailed, outcomeSuperseded:
		default:
			return nil, fmt.Errorf("%s: revision %s: expect %q is not an outcome", path, r.Name, r.Expect)
		}
	}
	return revs, nil
}

// loadCanary reads a Canary and checks that it fits the simulation: a
// Deployment target, blue/green (iterations) and no metrics (there is no
// Prometheus here; webhooks are the whole analysis).
func loadCanary(path string) (*flaggerv1.Canary, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cd := &flaggerv1.Canary{}
	if err := yaml.UnmarshalStrict(raw, cd); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if cd.Kind != "Canary" || cd.Name == "" {
		return nil, fmt.Errorf("%s: not a Canary with a metadata.name", path)
	}
	if cd.Namespace == "" {
		cd.Namespace = "default"
	}
	if cd.Spec.TargetRef.Kind != "Deployment" || cd.Spec.TargetRef.Name == "" {
		return nil, fmt.Errorf("%s: spec.targetRef must name a Deployment", path)
	}
	a := cd.Spec.Analysis
	if a == nil || a.Iterations < 1 {
		return nil, fmt.Errorf("%s: spec.analysis.iterations must be set (blue/green, the kubernetes provider)", path)
	}
	if len(a.Metrics) > 0 {
		return nil, fmt.Errorf("%s: spec.analysis.metrics must be empty: the simulation has no Prometheus", path)
	}
	if len(a.Webhooks) == 0 {
		return nil, fmt.Errorf("%s: spec.analysis.webhooks is empty", path)
	}
	return cd, nil
}

// endpointMap resolves a webhook URL's host name to local endpoints, standing
// in for cluster DNS and a Service in front of k6-gate's API replicas.
type endpointMap map[string][]string

func (m endpointMap) String() string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		keys = append(keys, k+"="+strings.Join(v, ","))
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}

func (m endpointMap) Set(v string) error {
	host, list, ok := strings.Cut(v, "=")
	if !ok || host == "" || list == "" {
		return fmt.Errorf("want host=127.0.0.1:port[,127.0.0.1:port...], got %q", v)
	}
	for _, ep := range strings.Split(list, ",") {
		if err := checkLoopback(ep); err != nil {
			return err
		}
		m[host] = append(m[host], ep)
	}
	return nil
}

// checkLoopback refuses any address but 127.0.0.1: everything the simulation
// reaches (k6-gate, the simulated pods) runs on this machine.
func checkLoopback(hostport string) error {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || port == "" {
		return fmt.Errorf("%q: want 127.0.0.1:port", hostport)
	}
	if host != "127.0.0.1" {
		return fmt.Errorf("%q: only 127.0.0.1 is allowed", hostport)
	}
	return nil
}

// webhookTargets returns where a webhook's calls go: the endpoints named for
// its host, or its own address when that is 127.0.0.1:port.
func webhookTargets(hook flaggerv1.CanaryWebhook, endpoints endpointMap) (*url.URL, []string, error) {
	u, err := url.Parse(hook.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, nil, fmt.Errorf("webhook %s: url %q is not an http URL", hook.Name, hook.URL)
	}
	if u.Scheme == "https" {
		return nil, nil, fmt.Errorf("webhook %s: https is not simulated; use http", hook.Name)
	}
	if eps, ok := endpoints[u.Hostname()]; ok {
		return u, eps, nil
	}
	if err := checkLoopback(u.Host); err != nil {
		return nil, nil, fmt.Errorf("webhook %s: %v (or map its host with -endpoints)", hook.Name, err)
	}
	return u, []string{u.Host}, nil
}

var urlInText = regexp.MustCompile(`(?i)\b(?:https?|wss?)://([^/\s'"` + "`" + `:?#\\]+)`)

// checkMetadataAddresses refuses webhook metadata (k6 scripts, env_vars) that
// names any host but 127.0.0.1: k6 runs for real, so its load must stay here.
func checkMetadataAddresses(hook flaggerv1.CanaryWebhook) error {
	if hook.Metadata == nil {
		return nil
	}
	for key, value := range *hook.Metadata {
		for _, m := range urlInText.FindAllStringSubmatch(value, -1) {
			if m[1] != "127.0.0.1" {
				return fmt.Errorf("webhook %s: metadata %s names %s; scripts here may only reach 127.0.0.1", hook.Name, key, m[0])
			}
		}
	}
	return nil
}
