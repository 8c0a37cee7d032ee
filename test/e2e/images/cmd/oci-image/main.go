// Command oci-image writes a one-layer OCI image archive (the tar form of an OCI image
// layout) from files on this machine, for `ctr -n k8s.io images import`. No registry is
// reachable here, so the cluster's images are made from binaries built here:
//
//	oci-image -name k6gate.local/pause:3.10 -o pause.tar \
//	  -file .tools/e2e/bin/pause:/pause -entrypoint /pause
//
// -file SRC:DST[:MODE] may repeat (MODE in octal, else the source's). The layer is
// reproducible: fixed timestamps, root-owned entries, sorted, so the same inputs give
// the same digests. The manifest carries io.containerd.image.name, the full name that
// `ctr images import` gives the image.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

type blob struct {
	digest string
	data   []byte
}

func newBlob(data []byte) blob {
	sum := sha256.Sum256(data)
	return blob{digest: "sha256:" + hex.EncodeToString(sum[:]), data: data}
}

func main() {
	var files, entrypoint, cmd, env listFlag
	name := flag.String("name", "", "full image name, e.g. k6gate.local/pause:3.10")
	out := flag.String("o", "", "output archive path")
	user := flag.String("user", "", "user the image runs as (e.g. 65532:65532)")
	workdir := flag.String("workdir", "/", "working directory")
	flag.Var(&files, "file", "SRC:DST[:MODE] (repeatable)")
	flag.Var(&entrypoint, "entrypoint", "entrypoint argument (repeatable)")
	flag.Var(&cmd, "cmd", "cmd argument (repeatable)")
	flag.Var(&env, "env", "KEY=VALUE (repeatable)")
	flag.Parse()
	if *name == "" || *out == "" || len(files) == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*name, *out, *user, *workdir, files, entrypoint, cmd, env); err != nil {
		fmt.Fprintln(os.Stderr, "oci-image:", err)
		os.Exit(1)
	}
}

func run(name, out, user, workdir string, files, entrypoint, cmd, env []string) error {
	layerTar, err := layer(files)
	if err != nil {
		return err
	}
	diffID := sha256.Sum256(layerTar)
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if _, err := zw.Write(layerTar); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	layerBlob := newBlob(gz.Bytes())

	if len(env) == 0 {
		env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	config := map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config": map[string]any{
			"Entrypoint": entrypoint, "Cmd": cmd, "Env": env, "User": user, "WorkingDir": workdir,
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(diffID[:])}},
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return err
	}
	configBlob := newBlob(configJSON)
	manifest := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: configBlob.digest, Size: int64(len(configJSON))},
		"layers":        []descriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Digest: layerBlob.digest, Size: int64(len(layerBlob.data))}},
	}
	manifestJSON, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	manifestBlob := newBlob(manifestJSON)
	tag := name[strings.LastIndex(name, ":")+1:]
	if strings.Contains(tag, "/") {
		return fmt.Errorf("image name %q has no tag", name)
	}
	index := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests": []descriptor{{
			MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: manifestBlob.digest, Size: int64(len(manifestJSON)),
			Annotations: map[string]string{"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag},
			Platform:    &platform{Architecture: runtime.GOARCH, OS: "linux"},
		}},
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return err
	}

	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	entries := []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", indexJSON},
		{blobPath(layerBlob), layerBlob.data},
		{blobPath(configBlob), configBlob.data},
		{blobPath(manifestBlob), manifestBlob.data},
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
	}
	for _, e := range entries {
		if err := writeFile(tw, e.name, e.data, 0o644); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(out+".tmp", archive.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(out+".tmp", out)
}

func blobPath(b blob) string { return "blobs/sha256/" + strings.TrimPrefix(b.digest, "sha256:") }

// layer is an uncompressed tar of the files, with their parent directories.
func layer(files []string) ([]byte, error) {
	type entry struct {
		src, dst string
		mode     int64
	}
	var entries []entry
	dirs := map[string]bool{}
	for _, f := range files {
		parts := strings.Split(f, ":")
		if len(parts) < 2 || len(parts) > 3 || !path.IsAbs(parts[1]) {
			return nil, fmt.Errorf("-file %q: want SRC:/ABS/DST[:MODE]", f)
		}
		info, err := os.Stat(parts[0])
		if err != nil {
			return nil, err
		}
		if !info.Mode().IsRegular() {
			return nil, fmt.Errorf("-file %q: not a regular file", f)
		}
		mode := int64(info.Mode().Perm())
		if len(parts) == 3 {
			if mode, err = strconv.ParseInt(parts[2], 8, 32); err != nil {
				return nil, fmt.Errorf("-file %q: mode: %w", f, err)
			}
		}
		dst := path.Clean(parts[1])
		entries = append(entries, entry{parts[0], strings.TrimPrefix(dst, "/"), mode})
		for d := path.Dir(dst); d != "/"; d = path.Dir(d) {
			dirs[strings.TrimPrefix(d, "/")+"/"] = true
		}
	}
	// Every image gets /tmp (sticky, world-writable) and /etc, where the kubelet's
	// resolv.conf and hosts are mounted.
	dirs["etc/"], dirs["tmp/"] = true, true
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	sortedDirs := make([]string, 0, len(dirs))
	for d := range dirs {
		sortedDirs = append(sortedDirs, d)
	}
	sort.Strings(sortedDirs)
	for _, d := range sortedDirs {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: mode, ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].dst < entries[j].dst })
	for i, e := range entries {
		if i > 0 && entries[i-1].dst == e.dst {
			return nil, errors.New("two files for " + e.dst)
		}
		data, err := os.ReadFile(e.src)
		if err != nil {
			return nil, err
		}
		if err := writeFile(tw, e.dst, data, e.mode); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeFile(tw *tar.Writer, name string, data []byte, mode int64) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}
