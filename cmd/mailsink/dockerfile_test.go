package main_test

// The Dockerfile is code too: these tests hold it to the binary it packages
// (ports, variables, the healthcheck subcommand, the build flags), and
// TestDockerfileScratchPlan hands its facts to .ci/scratch-check.sh, which
// builds and runs the binary the way the image would.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/mailsink/mailsink/server"
)

const dockerfilePath = "../../Dockerfile"

// dockerImage is what the Dockerfile says, reduced to the facts checked here.
type dockerImage struct {
	buildStage string   // name of the stage the final stage copies from
	buildEnv   []string // ENV of the build stage, KEY=VALUE
	buildCmd   string   // the go build RUN line, shell form, as written
	buildSteps []string // every RUN line from `COPY . .` on, in order, the go build among them
	buildWords []string // buildCmd split as a shell would
	buildOut   string   // its -o path

	base        string // FROM of the final stage
	copies      []copyOp
	user        string
	env         []string // KEY=VALUE, in order
	expose      []int
	workdir     string
	entrypoint  []string
	healthcheck []string
	healthFlags map[string]string // --interval=5s -> interval: 5s

	// problems are what the tests and the script cannot mirror; see
	// TestDockerfileIsMirrored.
	problems []string
}

func (img *dockerImage) problemf(format string, a ...any) {
	img.problems = append(img.problems, fmt.Sprintf(format, a...))
}

type copyOp struct{ from, src, dst, chown string }

type stage struct {
	base, name string
	nodes      []*parser.Node
}

// args is a node's arguments (the Next chain).
func args(n *parser.Node) []string {
	var out []string
	for x := n.Next; x != nil; x = x.Next {
		out = append(out, x.Value)
	}
	return out
}

// flags splits "--name=value" flags; a flag without a value maps to "".
func flags(n *parser.Node) map[string]string {
	m := map[string]string{}
	for _, f := range n.Flags {
		k, v, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		m[k] = v
	}
	return m
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// loadDockerfile parses the Dockerfile. Anything this file and
// .ci/scratch-check.sh do not know how to mirror is a problem, so that a
// change to the Dockerfile cannot quietly escape them.
func loadDockerfile(t testing.TB) dockerImage {
	t.Helper()
	f, err := os.Open(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("%s: %v", dockerfilePath, err)
	}
	img := dockerImage{workdir: "/", healthFlags: map[string]string{}}
	for _, w := range res.Warnings {
		img.problemf("%s: parser warning: %s", dockerfilePath, w.Short)
	}

	var stages []*stage
	for _, n := range res.AST.Children {
		if n.Value == "FROM" {
			a := args(n)
			s := &stage{base: a[0]}
			if len(a) == 3 && strings.EqualFold(a[1], "AS") {
				s.name = a[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			if n.Value != "ARG" {
				t.Fatalf("%s:%d: %s before FROM", dockerfilePath, n.StartLine, n.Value)
			}
			continue
		}
		stages[len(stages)-1].nodes = append(stages[len(stages)-1].nodes, n)
	}
	if len(stages) < 2 {
		t.Fatalf("%s: want a build stage and a final stage, have %d stage(s)", dockerfilePath, len(stages))
	}

	final := stages[len(stages)-1]
	img.base = final.base
	for _, n := range final.nodes {
		a := args(n)
		at := fmt.Sprintf("%s:%d", dockerfilePath, n.StartLine)
		switch n.Value {
		case "COPY":
			fl := flags(n)
			for k := range fl {
				if k != "from" && k != "chown" {
					img.problemf("%s: COPY --%s is not mirrored by .ci/scratch-check.sh", at, k)
				}
			}
			if len(a) != 2 {
				t.Fatalf("%s: want COPY with one source and one destination, got %q", at, a)
			}
			if c := fl["chown"]; c != "" && !regexp.MustCompile(`^\d+:\d+$`).MatchString(c) {
				img.problemf("%s: COPY --chown=%s: want numeric uid:gid (scratch has no /etc/passwd)", at, c)
			}
			img.copies = append(img.copies, copyOp{from: fl["from"], src: a[0], dst: a[1], chown: fl["chown"]})
		case "USER":
			img.user = a[0]
		case "ENV":
			// The parser yields key, value, "=" triples.
			for i := 0; i+1 < len(a); i += 3 {
				v := unquote(a[i+1])
				if strings.ContainsAny(v, "$\\") {
					img.problemf("%s: ENV %s=%s: expansions are not mirrored by .ci/scratch-check.sh", at, a[i], a[i+1])
				}
				img.env = append(img.env, a[i]+"="+v)
			}
		case "EXPOSE":
			for _, p := range a {
				num, proto, _ := strings.Cut(p, "/")
				port, err := strconv.Atoi(num)
				if err != nil || (proto != "" && proto != "tcp") {
					img.problemf("%s: EXPOSE %s: want a single TCP port", at, p)
					continue
				}
				img.expose = append(img.expose, port)
			}
		case "WORKDIR":
			img.workdir = a[0]
		case "ENTRYPOINT":
			if !n.Attributes["json"] {
				img.problemf("%s: ENTRYPOINT must be the exec (JSON) form: scratch has no shell", at)
			}
			img.entrypoint = a
		case "HEALTHCHECK":
			if len(a) == 0 || a[0] != "CMD" {
				img.problemf("%s: HEALTHCHECK must run a command, got %q", at, a)
				continue
			}
			if !n.Attributes["json"] {
				img.problemf("%s: HEALTHCHECK CMD must be the exec (JSON) form: scratch has no shell", at)
			}
			img.healthcheck = a[1:]
			img.healthFlags = flags(n)
		case "LABEL", "STOPSIGNAL", "ARG":
		default:
			img.problemf("%s: %s in the final stage is not mirrored by .ci/scratch-check.sh", at, n.Value)
		}
	}

	// The build stage is the one the final stage copies from.
	for _, c := range img.copies {
		if c.from == "" {
			img.problemf("%s: COPY %s from the context into the final stage: only the build stage's output belongs there", dockerfilePath, c.src)
		} else if img.buildStage == "" {
			img.buildStage = c.from
		} else if c.from != img.buildStage {
			img.problemf("%s: final stage copies from %q and %q, want one build stage", dockerfilePath, img.buildStage, c.from)
		}
	}
	var build *stage
	for _, s := range stages[:len(stages)-1] {
		if s.name == img.buildStage || strconv.Itoa(slices.Index(stages, s)) == img.buildStage {
			build = s
		}
	}
	if build == nil {
		t.Fatalf("%s: the final stage copies from %q, which is no earlier stage", dockerfilePath, img.buildStage)
	}
	lex := shell.NewLex('\\')
	copiedContext := false
	for _, n := range build.nodes {
		a := args(n)
		at := fmt.Sprintf("%s:%d", dockerfilePath, n.StartLine)
		switch n.Value {
		case "COPY":
			// The script builds in the repository root: the build stage must
			// see the whole context, as `COPY . .` gives it.
			if len(a) == 2 && a[0] == "." && len(flags(n)) == 0 {
				copiedContext = true
			}
		case "ENV":
			for i := 0; i+1 < len(a); i += 3 {
				img.buildEnv = append(img.buildEnv, a[i]+"="+unquote(a[i+1]))
			}
		case "RUN":
			if n.Attributes["json"] || len(a) != 1 {
				if copiedContext {
					img.problemf("%s: RUN in the exec form after `COPY . .` is not mirrored by .ci/scratch-check.sh", at)
				}
				continue
			}
			if copiedContext {
				img.buildSteps = append(img.buildSteps, a[0])
			}
			words, err := lex.ProcessWords(a[0], shell.EnvsFromSlice(img.buildEnv))
			if err != nil {
				t.Fatalf("%s: splitting RUN: %v", at, err)
			}
			if !isGoBuild(words) {
				continue
			}
			if img.buildCmd != "" {
				t.Fatalf("%s: a second go build in the build stage", at)
			}
			if !copiedContext {
				img.problemf("%s: go build runs before `COPY . .`", at)
			}
			for k, v := range flags(n) {
				if k != "mount" || !strings.HasPrefix(v, "type=cache") {
					img.problemf("%s: RUN --%s=%s is not mirrored by .ci/scratch-check.sh", at, k, v)
				}
			}
			img.buildCmd, img.buildWords = a[0], words
			for i, w := range words {
				if w == "-o" && i+1 < len(words) {
					img.buildOut = words[i+1]
				} else if out, ok := strings.CutPrefix(w, "-o="); ok {
					img.buildOut = out
				}
			}
		}
	}
	if img.buildCmd == "" {
		t.Fatalf("%s: no `go build` RUN line in stage %q", dockerfilePath, img.buildStage)
	}
	return img
}

// isGoBuild reports whether words are VAR=value... go build ...
func isGoBuild(words []string) bool {
	i := 0
	for i < len(words) && strings.Contains(words[i], "=") && !strings.HasPrefix(words[i], "-") {
		i++
	}
	return len(words) >= i+2 && words[i] == "go" && words[i+1] == "build"
}

// dockerfileConfig is the configuration the image runs with when given
// nothing: the defaults, then the Dockerfile's ENV.
func dockerfileConfig(t testing.TB, img dockerImage) server.Config {
	t.Helper()
	env := map[string]string{}
	for _, kv := range img.env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	cfg, err := server.LoadConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatalf("%s: the image's ENV is not a valid configuration: %v", dockerfilePath, err)
	}
	return cfg
}

func TestDockerfileIsMirrored(t *testing.T) {
	for _, p := range loadDockerfile(t).problems {
		t.Error(p)
	}
}

func TestDockerfileExposesEveryDefaultPort(t *testing.T) {
	img := loadDockerfile(t)
	cfg := dockerfileConfig(t, img)
	var want []int
	for _, l := range cfg.Listeners {
		want = append(want, l.Port)
	}
	want = append(want, cfg.HTTPPort)
	got := slices.Clone(img.expose)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("EXPOSE %v, want the SMTP listeners and the HTTP port %v", img.expose, want)
	}
}

func TestDockerfileEnv(t *testing.T) {
	img := loadDockerfile(t)
	known := server.EnvVars()
	for _, kv := range img.env {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "MAILSINK_") && !slices.Contains(known, k) {
			t.Errorf("ENV %s: mailsink reads no such variable (known: %s)", k, strings.Join(known, " "))
		}
	}
	if !slices.Contains(img.env, "MAILSINK_BIND=0.0.0.0") {
		t.Errorf("ENV %q lacks MAILSINK_BIND=0.0.0.0: the default 127.0.0.1 is unreachable from outside a container", img.env)
	}
	if cfg := dockerfileConfig(t, img); cfg.Bind != "0.0.0.0" {
		t.Errorf("the image binds %s, want 0.0.0.0", cfg.Bind)
	}
}

func TestDockerfileRunsTheCopiedBinary(t *testing.T) {
	img := loadDockerfile(t)
	if img.base != "scratch" {
		t.Errorf("final stage FROM %s, want scratch", img.base)
	}
	if len(img.entrypoint) == 0 {
		t.Fatal("no ENTRYPOINT")
	}
	bin := img.entrypoint[0]
	if !slices.Contains(img.copies, copyOp{from: img.buildStage, src: img.buildOut, dst: bin}) { // owned by root, as COPY leaves it
		t.Errorf("ENTRYPOINT %s is not where COPY puts the binary built to %s (copies: %+v)", bin, img.buildOut, img.copies)
	}
	if len(img.entrypoint) > 1 {
		t.Errorf("ENTRYPOINT %q passes flags: configure the image through MAILSINK_* so `docker run IMAGE --flag` and HEALTHCHECK see the same settings", img.entrypoint)
	}
}

func TestDockerfileHealthcheck(t *testing.T) {
	img := loadDockerfile(t)
	if len(img.entrypoint) == 0 {
		t.Fatal("no ENTRYPOINT")
	}
	if want := []string{img.entrypoint[0], "healthcheck"}; !slices.Equal(img.healthcheck, want) {
		t.Errorf("HEALTHCHECK CMD %q, want %q", img.healthcheck, want)
	}
	// The subcommand gives /livez 2 s; Docker must give it more.
	timeout, err := time.ParseDuration(img.healthFlags["timeout"])
	if err != nil || timeout <= 2*time.Second {
		t.Errorf("HEALTHCHECK --timeout=%q, want a duration above the subcommand's own 2s", img.healthFlags["timeout"])
	}
	if interval, err := time.ParseDuration(img.healthFlags["interval"]); err != nil || interval > 30*time.Second {
		t.Errorf("HEALTHCHECK --interval=%q, want at most 30s: CI services wait for the first healthy check", img.healthFlags["interval"])
	}
}

func TestDockerfileUserIsNotRoot(t *testing.T) {
	img := loadDockerfile(t)
	uid, gid, _ := strings.Cut(img.user, ":")
	for _, id := range []string{uid, gid} {
		// scratch has no /etc/passwd: names cannot be resolved.
		if n, err := strconv.Atoi(id); err != nil || n <= 0 {
			t.Errorf("USER %q: want numeric non-zero uid:gid", img.user)
			break
		}
	}
}

func TestDockerfileBuildsAStaticBinary(t *testing.T) {
	img := loadDockerfile(t)
	w := img.buildWords
	i := slices.Index(w, "go")
	if !slices.Contains(w[:i], "CGO_ENABLED=0") {
		t.Errorf("RUN %s: want CGO_ENABLED=0 (scratch has no libc)", img.buildCmd)
	}
	if !slices.Contains(w, "-trimpath") {
		t.Errorf("RUN %s: want -trimpath", img.buildCmd)
	}
	var ldflags []string
	for j, a := range w {
		if v, ok := strings.CutPrefix(a, "-ldflags="); ok {
			ldflags = strings.Fields(v)
		} else if a == "-ldflags" && j+1 < len(w) {
			ldflags = strings.Fields(w[j+1])
		}
	}
	if !slices.Contains(ldflags, "-s") || !slices.Contains(ldflags, "-w") {
		t.Errorf("RUN %s: want -ldflags with -s -w", img.buildCmd)
	}
	if !filepath.IsAbs(img.buildOut) {
		t.Errorf("RUN %s: want -o with an absolute path, got %q", img.buildCmd, img.buildOut)
	}
	if w[len(w)-1] != "./cmd/mailsink" {
		t.Errorf("RUN %s: want it to build ./cmd/mailsink", img.buildCmd)
	}
}

// TestDockerfileScratchPlan writes the Dockerfile's facts, one
// "key<TAB>value" a line, to the file named by MAILSINK_SCRATCH_PLAN, for
// .ci/scratch-check.sh. Without the variable it only checks they can be
// written that way.
func TestDockerfileScratchPlan(t *testing.T) {
	img := loadDockerfile(t)
	if len(img.problems) > 0 {
		t.Fatalf("the Dockerfile cannot be mirrored: %s", strings.Join(img.problems, "; "))
	}
	cfg := dockerfileConfig(t, img)
	var b strings.Builder
	line := func(fields ...string) {
		for _, f := range fields {
			if strings.ContainsAny(f, "\t\n\r") {
				t.Errorf("plan field %q holds a tab or newline", f)
			}
		}
		b.WriteString(strings.Join(fields, "\t") + "\n")
	}
	for _, kv := range img.buildEnv {
		line("build_env", kv)
	}
	line("build_cmd", img.buildCmd)
	for _, step := range img.buildSteps {
		line("build_step", step)
	}
	line("build_out", img.buildOut)
	for _, c := range img.copies {
		owner := c.chown
		if owner == "" {
			owner = "0:0"
		}
		line("copy", c.src, c.dst, owner)
	}
	line("user", img.user)
	line("workdir", img.workdir)
	for _, kv := range img.env {
		line("env", kv)
	}
	for _, p := range img.expose {
		line("expose", strconv.Itoa(p))
	}
	for _, a := range img.entrypoint {
		line("entrypoint", a)
	}
	for _, a := range img.healthcheck {
		line("healthcheck", a)
	}
	// What the image listens on when given nothing, for the script's client.
	line("http_port", strconv.Itoa(cfg.HTTPPort))
	// The port each default listener falls back to where the process may
	// not bind below 1024 (rootless runtimes): the same port above it.
	for _, l := range cfg.Listeners {
		fallback := l.Port
		if l.Port < 1024 && !cfg.ListenersChosen {
			fallback = server.FallbackPort(l.Port)
		}
		line("listener", strconv.Itoa(l.Port), string(l.TLS), string(l.Auth), strconv.Itoa(fallback))
	}
	line("listeners_chosen", strconv.FormatBool(cfg.ListenersChosen))
	if path := os.Getenv("MAILSINK_SCRATCH_PLAN"); path != "" {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
