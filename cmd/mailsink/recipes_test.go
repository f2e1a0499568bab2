package main_test

// The README's Docker recipes are copied into other people's CI files, so
// they are checked like code: every YAML block parses and names only ports
// the image exposes and variables mailsink reads (with values it accepts),
// the ports table matches the listeners, and the testcontainers-go snippet
// is gofmt-clean Go naming the same ports and image.

import (
	"bytes"
	"errors"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mailsink/mailsink/server"
)

// recipeImage is the image every recipe runs.
const recipeImage = "ghcr.io/mailsink/mailsink:latest"

func TestReadmeDockerRecipes(t *testing.T) {
	section := dockerSection(t, "../../README.md")
	if section == "" {
		t.Fatal(`README.md has no "## Docker" section`)
	}
	checkDockerRecipes(t, section)
}

// dockerSection is the "## Docker" section of a markdown file, up to the
// next second-level heading; "" if there is none.
func dockerSection(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	} else if err != nil {
		t.Fatal(err)
	}
	var out []string
	in, fenced := false, false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
		}
		if !fenced && strings.HasPrefix(line, "## ") {
			in = strings.TrimSpace(line) == "## Docker"
		}
		if in {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

type fence struct {
	lang, body string
	line       int // within the section
}

func fences(section string) []fence {
	var out []fence
	var cur *fence
	var body []string
	for i, line := range strings.Split(section, "\n") {
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &fence{lang: strings.TrimSpace(strings.TrimPrefix(line, "```")), line: i + 1}
			body = nil
		case cur != nil && strings.TrimSpace(line) == "```":
			cur.body = strings.Join(body, "\n") + "\n"
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body = append(body, line)
		}
	}
	return out
}

// recipeFacts is what the image offers, from the Dockerfile and the code.
type recipeFacts struct {
	expose    []int
	listeners []server.ListenerConfig
	envVars   []string
}

func (f recipeFacts) exposed(port int) bool { return slices.Contains(f.expose, port) }

func checkDockerRecipes(t *testing.T, section string) {
	img := loadDockerfile(t)
	facts := recipeFacts{expose: img.expose, listeners: dockerfileConfig(t, img).Listeners, envVars: server.EnvVars()}

	// Every MAILSINK_* the section names is one mailsink reads.
	for _, name := range regexp.MustCompile(`\bMAILSINK_[A-Z0-9_]+`).FindAllString(section, -1) {
		if !slices.Contains(facts.envVars, name) {
			t.Errorf("%s: mailsink reads no such variable", name)
		}
	}
	// Every host:port it names is a port the image exposes, and it names
	// every such port somewhere.
	// (Not after a "/": ghcr.io/mailsink/mailsink:1 is an image tag.)
	for _, m := range regexp.MustCompile(`(?:^|//|[^/\w.-])((?:mailsink|localhost|127\.0\.0\.1):(\d+))\b`).FindAllStringSubmatch(section, -1) {
		if p, _ := strconv.Atoi(m[2]); !facts.exposed(p) {
			t.Errorf("%s: port %d is not exposed by the image (EXPOSE %v)", m[1], p, facts.expose)
		}
	}
	for _, p := range facts.expose {
		if !regexp.MustCompile(`\b` + strconv.Itoa(p) + `\b`).MatchString(section) {
			t.Errorf("the section never names port %d", p)
		}
	}
	checkPortsTable(t, section, facts)

	kinds := map[string]bool{}
	for _, f := range fences(section) {
		switch f.lang {
		case "yaml":
			kinds[checkYAMLRecipe(t, f, facts)] = true
		case "go":
			kinds["go"] = true
			checkGoRecipe(t, f, facts)
		case "sh":
			checkShellRecipe(t, f, facts)
		default:
			t.Errorf("code block at section line %d: tag it yaml, go or sh (got %q) so it is checked", f.line, f.lang)
		}
	}
	for _, k := range []string{"compose", "github", "gitlab", "go"} {
		if !kinds[k] {
			t.Errorf("no %s recipe found", k)
		}
	}
}

// checkPortsTable matches rows "| PORT | `tls` | `auth` | ..." against the
// image's listeners.
func checkPortsTable(t *testing.T, section string, facts recipeFacts) {
	row := regexp.MustCompile("(?m)^\\|\\s*(\\d+)\\s*\\|\\s*`([a-z-]+)`\\s*\\|\\s*`([a-z-]+)`\\s*\\|")
	seen := map[int]bool{}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		port, _ := strconv.Atoi(m[1])
		seen[port] = true
		i := slices.IndexFunc(facts.listeners, func(l server.ListenerConfig) bool { return l.Port == port })
		if i < 0 {
			t.Errorf("ports table: %d is not an SMTP listener of the image", port)
			continue
		}
		if l := facts.listeners[i]; string(l.TLS) != m[2] || string(l.Auth) != m[3] {
			t.Errorf("ports table: %d says TLS %s, AUTH %s; the listener is %s", port, m[2], m[3], l)
		}
	}
	for _, l := range facts.listeners {
		if !seen[l.Port] {
			t.Errorf("ports table has no row for listener %s", l)
		}
	}
}

// checkConfig feeds MAILSINK_* settings to the real loader.
func checkConfig(t *testing.T, where string, env map[string]string) {
	if len(env) == 0 {
		return
	}
	_, err := server.LoadConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Errorf("%s: mailsink would not start with %v: %v", where, env, err)
	}
}

// checkYAMLRecipe parses one YAML block, checks its ports, variables and
// image, and says which recipe it is: compose, github or gitlab.
func checkYAMLRecipe(t *testing.T, f fence, facts recipeFacts) string {
	where := "yaml block at section line " + strconv.Itoa(f.line)
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(f.body), &doc); err != nil {
		t.Errorf("%s: %v", where, err)
		return ""
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Errorf("%s: want one mapping document", where)
		return ""
	}
	top := doc.Content[0]

	images := 0
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i].Value, n.Content[i+1]
				switch k {
				case "ports":
					for _, p := range v.Content {
						checkPortMapping(t, where, p.Value, facts)
					}
				case "environment", "env", "variables":
					checkConfig(t, where, yamlEnv(v))
					if port := yamlEnv(v)["HEALTHCHECK_TCP_PORT"]; port != "" {
						checkPortMapping(t, where, port, facts)
					}
				case "image", "name":
					if v.Kind == yaml.ScalarNode && strings.Contains(v.Value, "mailsink/") {
						images++
						if v.Value != recipeImage {
							t.Errorf("%s: image %s, want %s", where, v.Value, recipeImage)
						}
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(top)
	if images == 0 {
		t.Errorf("%s: runs no %s", where, recipeImage)
	}

	switch {
	case mapValue(top, "jobs") != nil:
		return "github"
	case mapValue(top, "services") != nil && mapValue(top, "services").Kind == yaml.MappingNode:
		return "compose"
	default:
		for i := 1; i < len(top.Content); i += 2 {
			if s := mapValue(top.Content[i], "services"); s != nil && s.Kind == yaml.SequenceNode {
				return "gitlab"
			}
		}
	}
	t.Errorf("%s: neither Compose, GitHub Actions nor GitLab CI", where)
	return ""
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// yamlEnv reads an environment as a mapping or as a list of KEY=VALUE.
func yamlEnv(n *yaml.Node) map[string]string {
	env := map[string]string{}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			env[n.Content[i].Value] = n.Content[i+1].Value
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			k, v, _ := strings.Cut(c.Value, "=")
			env[k] = v
		}
	}
	mailsink := map[string]string{}
	for k, v := range env {
		if strings.HasPrefix(k, "MAILSINK_") || k == "HEALTHCHECK_TCP_PORT" {
			mailsink[k] = v
		}
	}
	return mailsink
}

// checkPortMapping checks "[IP:][HOST:]CONTAINER[/tcp]": the container
// port must be exposed.
func checkPortMapping(t *testing.T, where, spec string, facts recipeFacts) {
	parts := strings.Split(spec, ":")
	num, proto, _ := strings.Cut(parts[len(parts)-1], "/")
	port, err := strconv.Atoi(num)
	if err != nil || (proto != "" && proto != "tcp") {
		t.Errorf("%s: port %q: want [IP:][HOST:]PORT", where, spec)
		return
	}
	if !facts.exposed(port) {
		t.Errorf("%s: port %q: %d is not exposed by the image (EXPOSE %v)", where, spec, port, facts.expose)
	}
}

// checkShellRecipe checks docker/podman run lines: image, -p and -e.
func checkShellRecipe(t *testing.T, f fence, facts recipeFacts) {
	for i, line := range strings.Split(f.body, "\n") {
		where := "sh block line " + strconv.Itoa(f.line+1+i)
		fields := strings.Fields(line)
		if len(fields) < 2 || (fields[0] != "docker" && fields[0] != "podman") || fields[1] != "run" {
			continue
		}
		if !slices.Contains(fields, recipeImage) {
			t.Errorf("%s: runs no %s", where, recipeImage)
		}
		env := map[string]string{}
		for j := 2; j+1 < len(fields); j++ {
			switch fields[j] {
			case "-p", "--publish":
				checkPortMapping(t, where, fields[j+1], facts)
			case "-e", "--env":
				k, v, _ := strings.Cut(fields[j+1], "=")
				env[k] = v
			}
		}
		checkConfig(t, where, env)
	}
}

// checkGoRecipe checks that the snippet is gofmt-clean Go (a whole file or a
// fragment of one) naming the image and exactly the exposed ports.
func checkGoRecipe(t *testing.T, f fence, facts recipeFacts) {
	where := "go block at section line " + strconv.Itoa(f.line)
	src := f.body
	if !strings.HasPrefix(strings.TrimSpace(src), "package ") {
		src = "package recipe\n\n" + src
	}
	file, err := parser.ParseFile(token.NewFileSet(), "recipe.go", src, parser.ParseComments)
	if err != nil {
		t.Errorf("%s: does not parse: %v", where, err)
		return
	}
	if formatted, err := format.Source([]byte(src)); err != nil || !bytes.Equal(formatted, []byte(src)) {
		t.Errorf("%s: not gofmt-formatted", where)
	}
	var ports []int
	image := false
	ast.Inspect(file, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			return true
		}
		if s == recipeImage {
			image = true
		}
		if num, ok := strings.CutSuffix(s, "/tcp"); ok {
			if p, err := strconv.Atoi(num); err == nil && !slices.Contains(ports, p) {
				ports = append(ports, p)
			}
		}
		return true
	})
	if !image {
		t.Errorf("%s: runs no %s", where, recipeImage)
	}
	want := slices.Sorted(slices.Values(facts.expose))
	slices.Sort(ports)
	if !slices.Equal(ports, want) {
		t.Errorf("%s: names ports %v, want the exposed %v", where, ports, want)
	}
}
