package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

var deploymentsResource = appsv1.SchemeGroupVersion.WithResource("deployments")

// simulateAPIServer gives the fake clientset the two API-server rules for
// Deployments that Flagger's readiness checks depend on, which client-go's
// fake does not have:
//   - metadata.generation starts at 1 and goes up by one on every spec change;
//   - the status subresource writes only .status, and writes to the object
//     itself never change .status.
//
// The fake runs reactors under one lock, so each read-modify-write here is
// atomic, as a write to etcd is. When rolledOut is not nil it sees every
// Deployment written to (a new object or a spec change) before it is stored.
func simulateAPIServer(kube *fake.Clientset, rolledOut func(dep *appsv1.Deployment)) {
	written := func(dep *appsv1.Deployment) {
		if rolledOut != nil {
			rolledOut(dep)
		}
	}
	tracker := kube.Tracker()
	store := k8stesting.ObjectReaction(tracker)
	kube.PrependReactor("*", "deployments", func(action k8stesting.Action) (bool, runtime.Object, error) {
		ns := action.GetNamespace()
		current := func(name string) (*appsv1.Deployment, error) {
			obj, err := tracker.Get(deploymentsResource, ns, name)
			if err != nil {
				return nil, err
			}
			return obj.(*appsv1.Deployment), nil
		}
		switch a := action.(type) {
		case k8stesting.CreateActionImpl:
			dep, ok := a.GetObject().(*appsv1.Deployment)
			if !ok || a.GetSubresource() != "" {
				return false, nil, nil
			}
			dep = dep.DeepCopy()
			dep.Generation = 1
			dep.Status = appsv1.DeploymentStatus{}
			written(dep)
			if err := tracker.Create(deploymentsResource, dep, ns); err != nil {
				return true, nil, err
			}
			return true, dep, nil
		case k8stesting.UpdateActionImpl:
			dep, ok := a.GetObject().(*appsv1.Deployment)
			if !ok {
				return false, nil, nil
			}
			old, err := current(dep.Name)
			if err != nil {
				return true, nil, err
			}
			next := old.DeepCopy()
			if a.GetSubresource() == "status" {
				next.Status = dep.Status
			} else {
				next = dep.DeepCopy()
				next.Status = old.Status
				next.Generation = old.Generation
				if !equality.Semantic.DeepEqual(old.Spec, dep.Spec) {
					next.Generation++
					written(next)
				}
			}
			if err := tracker.Update(deploymentsResource, next, ns); err != nil {
				return true, nil, err
			}
			return true, next, nil
		case k8stesting.PatchActionImpl:
			if a.GetSubresource() != "" {
				return false, nil, nil
			}
			old, err := current(a.GetName())
			if err != nil {
				return true, nil, err
			}
			_, obj, err := store(a)
			if err != nil {
				return true, nil, err
			}
			next := obj.(*appsv1.Deployment).DeepCopy()
			next.Status = old.Status
			next.Generation = old.Generation
			if !equality.Semantic.DeepEqual(old.Spec, next.Spec) {
				next.Generation++
				written(next)
			}
			if err := tracker.Update(deploymentsResource, next, ns); err != nil {
				return true, nil, err
			}
			return true, next, nil
		}
		return false, nil, nil
	})
}

// kubelet simulates the cluster, not Flagger: the Deployment controller and
// the kubelets that, in a real cluster, roll out each new generation of a
// Deployment. After readyAfter (or, when it is 0, in the very write that
// made the generation) it reports the generation as fully rolled out
// (replicas, updatedReplicas, readyReplicas and availableReplicas equal to
// spec.replicas; observedGeneration equal to generation; conditions Available
// and Progressing true), and it keeps the pod template of the pods it
// "runs" so the simulated Services answer as that revision would. Pods never
// crash and images always pull: failures here come from the revision's
// behaviour, judged by k6 through k6-gate.
type kubelet struct {
	kube       *fake.Clientset
	namespace  string
	readyAfter time.Duration

	// onServe, when set, learns each revision whose pods answer their first request.
	onServe func(revision string)

	mu      sync.Mutex
	running map[string]runningPods
	served  map[string]bool
}

type runningPods struct {
	replicas int32
	template corev1.PodTemplateSpec
}

func newKubelet(kube *fake.Clientset, namespace string, readyAfter time.Duration) *kubelet {
	return &kubelet{kube: kube, namespace: namespace, readyAfter: readyAfter,
		running: map[string]runningPods{}, served: map[string]bool{}}
}

// immediate is the API server hook for readyAfter 0: the generation is
// rolled out in the write that created it.
func (k *kubelet) immediate() func(dep *appsv1.Deployment) {
	if k.readyAfter > 0 {
		return nil
	}
	return func(dep *appsv1.Deployment) {
		dep.Status = rolledOutStatus(dep)
		k.mu.Lock()
		k.running[dep.Name] = runningPods{replicas: desiredReplicas(dep), template: *dep.Spec.Template.DeepCopy()}
		k.mu.Unlock()
	}
}

func (k *kubelet) run(stop <-chan struct{}) error {
	if k.readyAfter == 0 {
		return nil
	}
	factory := informers.NewSharedInformerFactoryWithOptions(k.kube, 0, informers.WithNamespace(k.namespace))
	informer := factory.Apps().V1().Deployments().Informer()
	schedule := func(obj any) {
		if dep, ok := obj.(*appsv1.Deployment); ok && !k.rolledOut(dep) {
			name := dep.Name
			time.AfterFunc(k.readyAfter, func() { k.rollOut(name) })
		}
	}
	_, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    schedule,
		UpdateFunc: func(_, obj any) { schedule(obj) },
	})
	if err != nil {
		return err
	}
	factory.Start(stop)
	factory.WaitForCacheSync(stop)
	return nil
}

func desiredReplicas(dep *appsv1.Deployment) int32 {
	if dep.Spec.Replicas == nil {
		return 1
	}
	return *dep.Spec.Replicas
}

func (k *kubelet) rolledOut(dep *appsv1.Deployment) bool {
	want := desiredReplicas(dep)
	s := dep.Status
	return s.ObservedGeneration == dep.Generation && s.Replicas == want &&
		s.UpdatedReplicas == want && s.AvailableReplicas == want && s.ReadyReplicas == want
}

func (k *kubelet) rollOut(name string) {
	ctx := context.Background()
	dep, err := k.kube.AppsV1().Deployments(k.namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil || k.rolledOut(dep) {
		return
	}
	want := desiredReplicas(dep)
	dep.Status = rolledOutStatus(dep)
	if _, err := k.kube.AppsV1().Deployments(k.namespace).UpdateStatus(ctx, dep, metav1.UpdateOptions{}); err != nil {
		if !apierrors.IsNotFound(err) {
			time.AfterFunc(k.readyAfter, func() { k.rollOut(name) })
		}
		return
	}
	k.mu.Lock()
	k.running[name] = runningPods{replicas: want, template: *dep.Spec.Template.DeepCopy()}
	k.mu.Unlock()
}

// rolledOutStatus is the status of a Deployment whose generation is fully
// rolled out and available.
func rolledOutStatus(dep *appsv1.Deployment) appsv1.DeploymentStatus {
	want := desiredReplicas(dep)
	now := metav1.Now()
	return appsv1.DeploymentStatus{
		ObservedGeneration: dep.Generation,
		Replicas:           want,
		UpdatedReplicas:    want,
		ReadyReplicas:      want,
		AvailableReplicas:  want,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
				LastUpdateTime: now, LastTransitionTime: now},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable",
				LastUpdateTime: now, LastTransitionTime: now},
		},
	}
}

// pods returns the running pods whose labels match a Service selector.
func (k *kubelet) pods(selector map[string]string) (string, runningPods, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	sel := labels.SelectorFromSet(selector)
	for name, pods := range k.running {
		if pods.replicas > 0 && sel.Matches(labels.Set(pods.template.Labels)) {
			return name, pods, true
		}
	}
	return "", runningPods{}, false
}

// serveService answers HTTP on addr as the named Service of the simulated
// cluster would: it routes by the Service's selector (as Flagger's router set
// it) to the pods the kubelet runs, and those pods answer as their pod
// template says: env STATUS (HTTP status, default 200) after DELAY (a Go
// duration, default none), body "<deployment> <REVISION>". No ready pod: 503.
func (k *kubelet) serveService(name, addr string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, err := k.kube.CoreV1().Services(k.namespace).Get(r.Context(), name, metav1.GetOptions{})
		if err != nil {
			http.Error(w, fmt.Sprintf("service %s: %v", name, err), http.StatusServiceUnavailable)
			return
		}
		dep, pods, ok := k.pods(svc.Spec.Selector)
		if !ok {
			http.Error(w, fmt.Sprintf("service %s has no ready endpoints", name), http.StatusServiceUnavailable)
			return
		}
		env := containerEnv(pods.template)
		k.mu.Lock()
		first := !k.served[env["REVISION"]]
		k.served[env["REVISION"]] = true
		k.mu.Unlock()
		if first && k.onServe != nil {
			k.onServe(env["REVISION"])
		}
		status := http.StatusOK
		if s, err := strconv.Atoi(env["STATUS"]); err == nil && s >= 200 && s <= 599 {
			status = s
		}
		if d, err := time.ParseDuration(env["DELAY"]); err == nil && d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		fmt.Fprintf(w, "%s %s\n", dep, env["REVISION"])
	})}
	go func() { _ = srv.Serve(ln) }()
	return srv, nil
}

// containerEnv is the literal env of the template's first container.
func containerEnv(t corev1.PodTemplateSpec) map[string]string {
	env := map[string]string{}
	if len(t.Spec.Containers) > 0 {
		for _, e := range t.Spec.Containers[0].Env {
			env[e.Name] = e.Value
		}
	}
	return env
}
