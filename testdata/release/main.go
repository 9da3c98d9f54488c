// Command release builds taskbolt's release (`make release`): a static
// binary per platform, an archive of each, a CycloneDX SBOM of the Go
// modules each binary contains, SHA256SUMS over them, the npm packages (a
// launcher and one package per platform carrying its binary), and the
// command that builds the container image from the linux binaries.
//
//	go run ./testdata/release [-version v1.2.3] [-out dist] [-targets linux/amd64,...]
//
// Everything is reproducible: two builds from the same commit give the same
// bytes (-trimpath, no build id, no VCS stamp but the version, archive
// entries dated at the commit, in a fixed order, with fixed owners).
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Targets are the platforms released, as GOOS/GOARCH.
var Targets = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64"}

// npmPlatform is Node's name of a Go platform: process.platform and
// process.arch, which an npm package's os and cpu fields name.
func npmPlatform(target string) (osName, cpu string) {
	goos, goarch, _ := strings.Cut(target, "/")
	osName, cpu = goos, goarch
	if goos == "windows" {
		osName = "win32"
	}
	if goarch == "amd64" {
		cpu = "x64"
	}
	return osName, cpu
}

func main() {
	version := flag.String("version", "", "the version to stamp (default: git describe)")
	out := flag.String("out", "dist", "the output directory (emptied first)")
	targets := flag.String("targets", strings.Join(Targets, ","), "the platforms, GOOS/GOARCH, comma-separated")
	flag.Parse()
	log.SetFlags(0)
	r, err := newRelease(*version, *out, strings.Split(*targets, ","))
	if err != nil {
		log.Fatal(err)
	}
	if err := r.build(); err != nil {
		log.Fatal(err)
	}
}

type release struct {
	version string    // as stamped: v1.2.3, or git describe's v1.2.3-4-gabcdef0
	npm     string    // the npm version: semver without the v
	date    time.Time // the commit's time: every archive entry's
	out     string
	targets []string
	root    string // the repository
}

func newRelease(version, out string, targets []string) (*release, error) {
	// The repository's root: where go.mod is (a source tarball has no .git).
	root, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	for ; ; root = filepath.Dir(root) {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		if root == filepath.Dir(root) {
			return nil, errors.New("release: run it in the repository (no go.mod here or above)")
		}
	}
	if version == "" {
		if version, err = git(root, "describe", "--tags", "--always", "--dirty"); err != nil {
			return nil, fmt.Errorf("release: -version, or a git checkout to describe: %w", err)
		}
	}
	// Archive entries are dated SOURCE_DATE_EPOCH (the reproducible-builds
	// convention), else the commit's time.
	epoch := os.Getenv("SOURCE_DATE_EPOCH")
	if epoch == "" {
		if epoch, err = git(root, "log", "-1", "--format=%ct"); err != nil {
			return nil, fmt.Errorf("release: SOURCE_DATE_EPOCH, or a git checkout: %w", err)
		}
	}
	secs, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("release: SOURCE_DATE_EPOCH %q: %w", epoch, err)
	}
	for _, t := range targets {
		if !slices.Contains(Targets, t) {
			return nil, fmt.Errorf("release: unknown target %q; known: %s", t, strings.Join(Targets, ", "))
		}
	}
	if out, err = filepath.Abs(out); err != nil {
		return nil, err
	}
	return &release{version: version, npm: npmVersion(version), date: time.Unix(secs, 0).UTC(), out: out, targets: targets, root: root}, nil
}

// npmVersion is version as semver: a tag, v1.2.3 or v1.2.3-rc.1, without
// its v; anything that is not a tag (a commit, git describe's
// v1.2.3-4-gabc, which semver would sort before 1.2.3) → 0.0.0-<it>, a
// prerelease.
func npmVersion(v string) string {
	if s := strings.TrimPrefix(v, "v"); semverTag.MatchString(s) && !describeSuffix.MatchString(s) {
		return s
	}
	return "0.0.0-" + strings.NewReplacer(".", "-", "+", "-").Replace(v)
}

var (
	semverTag      = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)
	describeSuffix = regexp.MustCompile(`-[0-9]+-g[0-9a-f]+(-dirty)?$|-dirty$`)
)

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	b, err := cmd.Output()
	return strings.TrimSpace(string(b)), err
}

func (r *release) build() error {
	if err := os.RemoveAll(r.out); err != nil {
		return err
	}
	if err := os.MkdirAll(r.out, 0o755); err != nil {
		return err
	}
	var sums []string // files SHA256SUMS covers
	for _, t := range r.targets {
		began := time.Now()
		bin, err := r.binary(t)
		if err != nil {
			return err
		}
		archive, err := r.archive(t, bin)
		if err != nil {
			return err
		}
		sbom, err := r.sbom(t, bin)
		if err != nil {
			return err
		}
		if err := r.npmPlatform(t, bin); err != nil {
			return err
		}
		fi, _ := os.Stat(bin)
		log.Printf("%-14s %5.1f MB  %s  (%.1f s)", t, float64(fi.Size())/1e6, filepath.Base(archive), time.Since(began).Seconds())
		sums = append(sums, archive, sbom)
	}
	if err := r.npmMain(); err != nil {
		return err
	}
	if err := r.checksums(sums); err != nil {
		return err
	}
	return r.dockerCommand()
}

// dir is where a target's binary goes: dist/linux_amd64/, the path the
// Dockerfile copies from.
func (r *release) dir(target string) string {
	return filepath.Join(r.out, strings.ReplaceAll(target, "/", "_"))
}

func exe(target string) string {
	if strings.HasPrefix(target, "windows/") {
		return "taskbolt.exe"
	}
	return "taskbolt"
}

// binary builds one static binary.
func (r *release) binary(target string) (string, error) {
	goos, goarch, _ := strings.Cut(target, "/")
	path := filepath.Join(r.dir(target), exe(target))
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid= -X main.version="+r.version, "-o", path, ".")
	cmd.Dir = r.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch, "GOFLAGS=-mod=readonly")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build %s: %w", target, err)
	}
	return path, nil
}

// archiveFiles are what an archive holds besides the binary.
var archiveFiles = []string{"README.md"}

// archive writes taskbolt_<version>_<os>_<arch>.tar.gz (.zip for Windows):
// the binary and the README, dated at the commit, owned by root.
func (r *release) archive(target, bin string) (string, error) {
	goos, goarch, _ := strings.Cut(target, "/")
	base := fmt.Sprintf("taskbolt_%s_%s_%s", r.version, goos, goarch) // also the directory inside
	type entry struct {
		name, path string // in the archive (under base/), and on disk
		mode       int64
		data       []byte
	}
	files := []entry{{name: exe(target), path: bin, mode: 0o755}}
	for _, f := range archiveFiles { // in order: the listing is the same every time
		files = append(files, entry{name: f, path: filepath.Join(r.root, f), mode: 0o644})
	}
	for i := range files {
		data, err := os.ReadFile(files[i].path)
		if err != nil {
			return "", err
		}
		files[i].name, files[i].data = base+"/"+files[i].name, data
	}
	var buf bytes.Buffer
	name := base + ".tar.gz"
	if goos == "windows" {
		name = base + ".zip"
		zw := zip.NewWriter(&buf)
		for _, f := range files {
			h := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: r.date}
			h.SetMode(os.FileMode(f.mode))
			w, err := zw.CreateHeader(h)
			if err != nil {
				return "", err
			}
			w.Write(f.data)
		}
		if err := zw.Close(); err != nil {
			return "", err
		}
	} else {
		gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // no name, no time in the header
		tw := tar.NewWriter(gz)
		for _, f := range files {
			h := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)),
				ModTime: r.date, Uname: "root", Gname: "root", Format: tar.FormatPAX}
			if err := tw.WriteHeader(h); err != nil {
				return "", err
			}
			tw.Write(f.data)
		}
		if err := tw.Close(); err != nil {
			return "", err
		}
		if err := gz.Close(); err != nil {
			return "", err
		}
	}
	path := filepath.Join(r.out, name)
	return path, os.WriteFile(path, buf.Bytes(), 0o644)
}

// sbom writes a CycloneDX 1.5 document of the modules the binary was
// built from, as the binary itself records them (debug/buildinfo): what
// is in it, not what go.mod might pull in.
func (r *release) sbom(target, bin string) (string, error) {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	goos, goarch, _ := strings.Cut(target, "/")
	type property struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	type hash struct {
		Alg     string `json:"alg"`
		Content string `json:"content"`
	}
	type component struct {
		Type       string     `json:"type"`
		BOMRef     string     `json:"bom-ref"`
		Name       string     `json:"name"`
		Version    string     `json:"version"`
		Purl       string     `json:"purl,omitempty"`
		Hashes     []hash     `json:"hashes,omitempty"`
		Properties []property `json:"properties,omitempty"`
	}
	main := component{Type: "application", BOMRef: "pkg:golang/" + info.Main.Path + "@" + r.version, Name: "taskbolt", Version: r.version,
		Purl:       "pkg:golang/" + info.Main.Path + "@" + r.version + "?goos=" + goos + "&goarch=" + goarch,
		Hashes:     []hash{{"SHA-256", hex.EncodeToString(sum[:])}},
		Properties: []property{{"go:toolchain", info.GoVersion}, {"go:os", goos}, {"go:arch", goarch}}}
	var deps []component
	var refs []string
	for _, d := range info.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		ref := "pkg:golang/" + m.Path + "@" + m.Version
		c := component{Type: "library", BOMRef: ref, Name: m.Path, Version: m.Version, Purl: ref}
		if m.Sum != "" {
			c.Properties = []property{{"go:sum", m.Sum}} // Go's h1: hash of the module's files, not of a file here
		}
		deps = append(deps, c)
		refs = append(refs, ref)
	}
	doc := map[string]any{
		"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
		// The same binary always gets the same serial number.
		"serialNumber": "urn:uuid:" + uuidOf(sum[:]),
		"metadata": map[string]any{
			"timestamp": r.date.Format(time.RFC3339),
			"tools":     map[string]any{"components": []component{{Type: "application", BOMRef: "tool", Name: "taskbolt release", Version: r.version}}},
			"component": main,
		},
		"components":   deps,
		"dependencies": []map[string]any{{"ref": main.BOMRef, "dependsOn": refs}},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(r.out, fmt.Sprintf("taskbolt_%s_%s_%s.cdx.json", r.version, goos, goarch))
	return path, os.WriteFile(path, append(b, '\n'), 0o644)
}

// uuidOf is a version-8 UUID made of the first bytes of a hash.
func uuidOf(h []byte) string {
	b := slices.Clone(h[:16])
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	x := hex.EncodeToString(b)
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

// checksums writes SHA256SUMS in sha256sum's format, sorted by name.
func (r *release) checksums(files []string) error {
	slices.SortFunc(files, func(a, b string) int { return strings.Compare(filepath.Base(a), filepath.Base(b)) })
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%x  %s\n", sum, filepath.Base(f))
	}
	return os.WriteFile(filepath.Join(r.out, "SHA256SUMS"), []byte(b.String()), 0o644)
}

// npmPlatform writes the npm package of one platform: its binary, and os
// and cpu fields so npm installs it only there.
func (r *release) npmPlatform(target, bin string) error {
	osName, cpu := npmPlatform(target)
	dir := filepath.Join(r.out, "npm", osName+"-"+cpu)
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		return err
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", exe(target)), data, 0o755); err != nil {
		return err
	}
	pkg := map[string]any{
		"name": "@taskbolt/" + osName + "-" + cpu, "version": r.npm,
		"description": "The taskbolt binary for " + osName + " " + cpu + "; installed by the taskbolt package.",
		"license":     "SEE LICENSE IN README.md", "repository": "https://github.com/taskbolt/taskbolt",
		"os": []string{osName}, "cpu": []string{cpu}, "files": []string{"bin/"},
		"preferUnplugged": true,
	}
	if err := writeJSON(filepath.Join(dir, "package.json"), pkg); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "README.md"),
		[]byte("# @taskbolt/"+osName+"-"+cpu+"\n\nThe taskbolt binary for "+osName+" "+cpu+". Install `taskbolt`, which picks this package on this platform.\n"), 0o644)
}

// npmMain writes the taskbolt package: the launcher and the test fixture
// (testdata/release/npm), with one optional dependency per platform, at
// exactly this version.
func (r *release) npmMain() error {
	src := filepath.Join(r.root, "testdata", "release", "npm")
	dir := filepath.Join(r.out, "npm", "taskbolt")
	var pkg map[string]any
	raw, err := os.ReadFile(filepath.Join(src, "package.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		return err
	}
	pkg["version"] = r.npm
	optional := map[string]string{}
	for _, t := range Targets { // every platform, whichever this build made
		osName, cpu := npmPlatform(t)
		optional["@taskbolt/"+osName+"-"+cpu] = r.npm
	}
	pkg["optionalDependencies"] = optional
	err = filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(path) == "package.json" || strings.Contains(path, "node_modules") {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if strings.HasPrefix(rel, "test") { // the package's own tests stay here
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(rel, "bin"+string(filepath.Separator)) {
			mode = 0o755
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), data, mode)
	})
	if err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, "package.json"), pkg)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// dockerCommand writes the command that builds the image for both linux
// architectures from this release's binaries (the Dockerfile copies
// dist/linux_${TARGETARCH}/taskbolt), and prints it.
func (r *release) dockerCommand() error {
	cmd := fmt.Sprintf("docker buildx build --platform linux/amd64,linux/arm64 --build-arg VERSION=%s -t taskbolt:%s .\n", r.version, r.version)
	if err := os.WriteFile(filepath.Join(r.out, "docker-buildx.sh"), []byte("#!/bin/sh\n# Build the container image from this release (run from the repository root).\nset -e\n"+cmd), 0o755); err != nil {
		return err
	}
	log.Printf("container image: %s", strings.TrimSpace(cmd))
	return nil
}
