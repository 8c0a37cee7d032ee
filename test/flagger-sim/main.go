// Command flagger-sim runs Flagger's own controller (the released
// github.com/fluxcd/flagger module: controller.NewController, its canary,
// router and observer factories, its scheduler) against k6-gate, on a
// simulated cluster: client-go's fake clientset plus the two API-server rules
// Flagger depends on (cluster.go), a simulated kubelet that rolls out every
// Deployment generation, and Services on 127.0.0.1 that answer as the pods of
// the running revision would.
//
// It reads a Canary (kubernetes provider: blue/green with iterations, no
// metrics, webhooks to k6-gate) and a list of revisions, creates the target
// Deployment with the first revision, then changes its pod template to each
// next revision in turn, as a new image would, and reports on stdout, one JSON
// object a line, every phase Flagger sets, every webhook request and call with
// k6-gate's answer and run id, Flagger's own event messages, and the outcome
// of each revision. It exits 0 when every revision ended as expected, 1 when
// one did not (or the deadline passed), 2 on bad input.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/fluxcd/flagger/pkg/canary"
	flaggerfake "github.com/fluxcd/flagger/pkg/client/clientset/versioned/fake"
	flaggerinformers "github.com/fluxcd/flagger/pkg/client/informers/externalversions"
	"github.com/fluxcd/flagger/pkg/version"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

// serviceFlags collects repeated -service name=127.0.0.1:port flags.
type serviceFlags map[string]string

func (s serviceFlags) String() string { return fmt.Sprint(map[string]string(s)) }
func (s serviceFlags) Set(v string) error {
	name, addr, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=127.0.0.1:port, got %q", v)
	}
	if err := checkLoopback(addr); err != nil {
		return err
	}
	s[name] = addr
	return nil
}

func main() {
	os.Exit(run())
}

// usageErr reports bad input (exit 2); failErr a failure to set the simulation up (exit 1).
func usageErr(format string, a ...any) int {
	fmt.Fprintf(os.Stderr, "flagger-sim: "+format+"\n", a...)
	return 2
}

func failErr(format string, a ...any) int {
	fmt.Fprintf(os.Stderr, "flagger-sim: "+format+"\n", a...)
	return 1
}

func run() int {
	var (
		canaryPath   = flag.String("canary", "", "Canary YAML (required)")
		revsPath     = flag.String("revisions", "", "revisions YAML: a list of {name, image, env, when, expect} (required)")
		window       = flag.Duration("window", 500*time.Millisecond, "Flagger's control loop interval (flaggerWindow)")
		readyAfter   = flag.Duration("ready-after", 200*time.Millisecond, "how long the simulated kubelet takes to roll out a Deployment generation; 0: in the same write")
		replicas     = flag.Int("replicas", 2, "spec.replicas of the target Deployment")
		deadline     = flag.Duration("deadline", 5*time.Minute, "give up (exit 1) when the revisions have not all ended by then")
		logLevel     = flag.String("log-level", "info", "level of Flagger's log lines on stderr")
		meshProvider = flag.String("mesh-provider", "kubernetes", "Flagger's -mesh-provider")
		services     = serviceFlags{}
		endpoints    = endpointMap{}
	)
	flag.Var(services, "service", "serve a Service of the simulated cluster on 127.0.0.1, name=127.0.0.1:port; repeatable")
	flag.Var(endpoints, "endpoints", "resolve a webhook URL's host to endpoints, host=127.0.0.1:port[,...] (round robin); repeatable")
	flag.Parse()
	if *canaryPath == "" || *revsPath == "" || flag.NArg() > 0 {
		return usageErr("usage: flagger-sim -canary canary.yaml -revisions revisions.yaml [flags]")
	}
	cd, err := loadCanary(*canaryPath)
	if err != nil {
		return usageErr("%v", err)
	}
	revs, err := loadRevisions(*revsPath)
	if err != nil {
		return usageErr("%v", err)
	}

	rep := newReporter(os.Stdout)
	index := newRevisionIndex()
	notes := make(chan note, 256)
	send := func(n note) { notes <- n }

	// Every webhook goes through a recording proxy on 127.0.0.1.
	var hookNames []string
	postHooks := 0
	for i := range cd.Spec.Analysis.Webhooks {
		hook := &cd.Spec.Analysis.Webhooks[i]
		if err := checkMetadataAddresses(*hook); err != nil {
			return usageErr("%v", err)
		}
		target, eps, err := webhookTargets(*hook, endpoints)
		if err != nil {
			return usageErr("%v", err)
		}
		p := &hookProxy{
			hook: *hook, target: target, endpoints: eps, rep: rep, index: index,
			onCheck: func(c checkLine) { send(note{kind: noteCheck, check: c}) },
		}
		proxied, err := startHookProxy(p)
		if err != nil {
			return failErr("webhook %s: %v", hook.Name, err)
		}
		hook.URL = proxied
		hookNames = append(hookNames, fmt.Sprintf("%s:%s", hook.Type, hook.Name))
		if hook.Type == flaggerv1.PostRolloutHook {
			postHooks++
		}
	}

	logger, err := newFlaggerLogger(*logLevel, rep)
	if err != nil {
		return usageErr("-log-level: %v", err)
	}
	defer func() { _ = logger.Sync() }()

	ns, target := cd.Namespace, cd.Spec.TargetRef.Name
	initial, err := normalized(newDeployment(ns, target, int32(*replicas), revs[0]))
	if err != nil {
		return usageErr("%v", err)
	}
	kube := fake.NewSimpleClientset()
	cluster := newKubelet(kube, ns, *readyAfter)
	cluster.onServe = func(rev string) { send(note{kind: noteServed, revision: rev}) }
	simulateAPIServer(kube, cluster.immediate())
	if _, err := kube.AppsV1().Deployments(ns).Create(context.Background(), initial, metav1.CreateOptions{}); err != nil {
		return failErr("creating the target Deployment: %v", err)
	}
	flagger := flaggerfake.NewSimpleClientset(cd)

	stop := make(chan struct{})
	defer close(stop)
	if err := cluster.run(stop); err != nil {
		return failErr("kubelet: %v", err)
	}
	for name, addr := range services {
		srv, err := cluster.serveService(name, addr)
		if err != nil {
			return usageErr("-service %s: %v", name, err)
		}
		defer srv.Close()
	}

	names := make([]string, len(revs))
	for i, r := range revs {
		names[i] = r.Name
	}
	rep.emit(startLine{line: rep.at("start"), Flagger: "v" + version.VERSION,
		Canary: ns + "/" + cd.Name, Revisions: names, Webhooks: hookNames})

	s := &scenario{
		kube: kube, flagger: flagger, rep: rep, index: index, cd: cd, revs: revs,
		postHooks: postHooks, outcomes: map[string]string{}, postChecks: map[string]int{},
		served: map[string]bool{},
	}
	s.recordRevision(revs[0], initial.Spec.Template)
	if err := watchPhases(s, stop, send); err != nil {
		return failErr("canary watch: %v", err)
	}
	if err := startFlagger(kube, flagger, ns, flaggerOptions{
		meshProvider: *meshProvider, window: *window, threadiness: 2,
	}, logger, stop); err != nil {
		return failErr("flagger: %v", err)
	}

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	ok, reason := s.loop(notes, time.After(*deadline), signals)
	rep.emit(doneLine{line: rep.at("done"), OK: ok, Reason: reason, Outcomes: s.outcomes})
	if !ok {
		return 1
	}
	return 0
}

type noteKind int

const (
	notePhase noteKind = iota
	noteServed
	noteCheck
)

type note struct {
	kind     noteKind
	phase    string
	revision string
	check    checkLine
}

// scenario applies the revisions one after the other and decides when the run
// is over. Only loop() changes its maps.
type scenario struct {
	kube      *fake.Clientset
	flagger   *flaggerfake.Clientset
	rep       *reporter
	index     *revisionIndex
	cd        *flaggerv1.Canary
	revs      []revision
	postHooks int

	current    int
	outcomes   map[string]string
	postChecks map[string]int
	served     map[string]bool
}

func (s *scenario) loop(notes <-chan note, deadline <-chan time.Time, signals <-chan os.Signal) (bool, string) {
	for {
		if s.current+1 < len(s.revs) {
			prev, next := s.revs[s.current], s.revs[s.current+1]
			if (next.When == whenSettled && s.settled(prev)) || (next.When == whenTested && s.served[prev.Name]) {
				if err := s.apply(next); err != nil {
					return false, fmt.Sprintf("applying revision %s: %v", next.Name, err)
				}
				s.current++
				continue
			}
		} else if s.settled(s.revs[s.current]) {
			return s.verdict()
		}
		select {
		case n := <-notes:
			s.handle(n)
		case <-deadline:
			return false, "deadline passed before every revision ended"
		case sig := <-signals:
			return false, "stopped by " + sig.String()
		}
	}
}

func (s *scenario) handle(n note) {
	switch n.kind {
	case noteServed:
		s.served[n.revision] = true
	case noteCheck:
		if n.check.Type == string(flaggerv1.PostRolloutHook) {
			s.postChecks[n.check.Revision]++
		}
	case notePhase:
		idx := s.indexOf(n.revision)
		if idx < 0 {
			return
		}
		// Flagger analyses a later revision: earlier ones it never finished were superseded.
		for i := 1; i < idx; i++ {
			if s.outcomes[s.revs[i].Name] == "" {
				s.setOutcome(s.revs[i], outcomeSuperseded)
			}
		}
		switch {
		case idx == 0 && n.phase == string(flaggerv1.CanaryPhaseInitialized):
			s.setOutcome(s.revs[0], outcomeInitialized)
		case idx > 0 && (n.phase == string(flaggerv1.CanaryPhaseSucceeded) || n.phase == string(flaggerv1.CanaryPhaseFailed)):
			s.setOutcome(s.revs[idx], n.phase)
		}
	}
}

func (s *scenario) indexOf(name string) int {
	for i, r := range s.revs {
		if r.Name == name {
			return i
		}
	}
	return -1
}

func (s *scenario) setOutcome(r revision, outcome string) {
	if s.outcomes[r.Name] != "" {
		return
	}
	s.outcomes[r.Name] = outcome
	primary, _ := s.templateRevision(s.cd.Spec.TargetRef.Name + "-primary")
	s.rep.emit(outcomeLine{line: s.rep.at("outcome"), Revision: r.Name, Outcome: outcome, Expected: r.Expect, Primary: primary})
}

// settled: Flagger is done with the revision, post-rollout hooks included.
func (s *scenario) settled(r revision) bool {
	switch s.outcomes[r.Name] {
	case "":
		return false
	case outcomeSucceeded, outcomeFailed:
		return s.postChecks[r.Name] >= s.postHooks
	}
	return true
}

func (s *scenario) verdict() (bool, string) {
	var wrong []string
	for _, r := range s.revs {
		if r.Expect != "" && s.outcomes[r.Name] != r.Expect {
			wrong = append(wrong, fmt.Sprintf("%s ended %s, expected %s", r.Name, s.outcomes[r.Name], r.Expect))
		}
	}
	sort.Strings(wrong)
	if len(wrong) > 0 {
		return false, strings.Join(wrong, "; ")
	}
	return true, ""
}

// apply changes the target's pod template to the revision's, as `kubectl set
// image` or a GitOps sync would, with a merge patch on spec.template only.
// The revision is indexed first: Flagger may read the new template at once.
func (s *scenario) apply(r revision) error {
	ctx := context.Background()
	dep := newDeployment(s.cd.Namespace, s.cd.Spec.TargetRef.Name, 0, r)
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"template": dep.Spec.Template}})
	if err != nil {
		return err
	}
	current, err := s.kube.AppsV1().Deployments(dep.Namespace).Get(ctx, dep.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	// The template as the API server will store it: the same JSON merge patch.
	before, err := json.Marshal(current)
	if err != nil {
		return err
	}
	after, err := jsonpatch.MergePatch(before, patch)
	if err != nil {
		return err
	}
	patched := &appsv1.Deployment{}
	if err := json.Unmarshal(after, patched); err != nil {
		return err
	}
	checksum := s.recordRevision(r, patched.Spec.Template)
	_, err = s.kube.AppsV1().Deployments(dep.Namespace).Patch(ctx, dep.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return err
	}
	s.rep.emit(applyLine{line: s.rep.at("apply"), Revision: r.Name, Image: r.Image, Env: r.Env, Checksum: checksum})
	return nil
}

// recordRevision indexes a pod template (as stored: the form Flagger hashes)
// under the revision's name, and returns the checksum Flagger's webhook
// payloads will carry for it.
func (s *scenario) recordRevision(r revision, template corev1.PodTemplateSpec) string {
	spec := canary.ComputeHash(template)
	var tracked *map[string]string
	cd, err := s.flagger.FlaggerV1beta1().Canaries(s.cd.Namespace).Get(context.Background(), s.cd.Name, metav1.GetOptions{})
	if err == nil {
		tracked = cd.Status.TrackedConfigs
	}
	checksum := payloadChecksum(tracked, spec)
	s.index.add(spec, checksum, r.Name)
	return checksum
}

// templateRevision is the REVISION env of a Deployment's pod template.
func (s *scenario) templateRevision(name string) (string, error) {
	dep, err := s.kube.AppsV1().Deployments(s.cd.Namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return containerEnv(dep.Spec.Template)["REVISION"], nil
}

// payloadChecksum is the checksum Flagger's CallWebhook sends: its unexported
// canaryChecksum in pkg/controller/webhook.go, the same anonymous struct
// hashed with Flagger's canary.ComputeHash.
func payloadChecksum(tracked *map[string]string, lastAppliedSpec string) string {
	return canary.ComputeHash(struct {
		TrackedConfigs  *map[string]string
		LastAppliedSpec string
	}{tracked, lastAppliedSpec})
}

// watchPhases reports every change of the Canary's phase or analysed
// revision, as `kubectl get canary -w` would show it.
func watchPhases(s *scenario, stop <-chan struct{}, send func(note)) error {
	factory := flaggerinformers.NewSharedInformerFactoryWithOptions(s.flagger, 0,
		flaggerinformers.WithNamespace(s.cd.Namespace))
	informer := factory.Flagger().V1beta1().Canaries().Informer()
	var last phaseLine
	report := func(obj any) {
		cd, ok := obj.(*flaggerv1.Canary)
		if !ok || cd.Name != s.cd.Name {
			return
		}
		st := cd.Status
		rev := s.index.revisionOfSpec(st.LastAppliedSpec)
		checksum := payloadChecksum(st.TrackedConfigs, st.LastAppliedSpec)
		if rev != "" {
			s.index.add(st.LastAppliedSpec, checksum, rev)
		}
		event := "phase"
		if string(st.Phase) == last.Phase && rev == last.Revision {
			if st.FailedChecks == last.FailedChecks && st.Iterations == last.Iterations {
				return
			}
			event = "status"
		}
		primary, _ := s.templateRevision(cd.Spec.TargetRef.Name + "-primary")
		current, _ := s.templateRevision(cd.Spec.TargetRef.Name)
		last = phaseLine{line: s.rep.at(event), Phase: string(st.Phase), Revision: rev, Checksum: checksum,
			FailedChecks: st.FailedChecks, Iterations: st.Iterations, Primary: primary, Canary: current}
		s.rep.emit(last)
		if event == "phase" {
			send(note{kind: notePhase, phase: string(st.Phase), revision: rev})
		}
	}
	// One informer goroutine calls these handlers, in order.
	_, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    report,
		UpdateFunc: func(_, obj any) { report(obj) },
	})
	if err != nil {
		return err
	}
	factory.Start(stop)
	factory.WaitForCacheSync(stop)
	return nil
}

// newDeployment is the target Deployment at a revision: one container whose
// image and env are the revision's, plus env REVISION=<name>.
func newDeployment(ns, name string, replicas int32, r revision) *appsv1.Deployment {
	env := []corev1.EnvVar{{Name: "REVISION", Value: r.Name}}
	keys := make([]string, 0, len(r.Env))
	for k := range r.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, corev1.EnvVar{Name: k, Value: r.Env[k]})
	}
	podLabels := map[string]string{"app": name}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}, Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: podLabels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  name,
					Image: r.Image,
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 9898, Protocol: corev1.ProtocolTCP}},
					Env:   env,
				}}},
			},
		},
	}
}

// normalized round-trips an object through JSON, as storing it in a real API
// server does, so Flagger hashes the same template before and after any write.
func normalized(dep *appsv1.Deployment) (*appsv1.Deployment, error) {
	raw, err := json.Marshal(dep)
	if err != nil {
		return nil, err
	}
	out := &appsv1.Deployment{}
	return out, json.Unmarshal(raw, out)
}
