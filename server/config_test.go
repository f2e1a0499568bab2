package server

import (
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseListener(t *testing.T) {
	tests := []struct {
		spec    string
		want    ListenerConfig
		wantErr string
	}{
		{"25", ListenerConfig{Port: 25, TLS: TLSNone, Auth: AuthOff, CleartextAuth: true}, ""},
		{"2525:starttls:optional", ListenerConfig{Port: 2525, TLS: TLSStartTLS, Auth: AuthOptional, CleartextAuth: true}, ""},
		{"587:STARTTLS-REQUIRED:required", ListenerConfig{Port: 587, TLS: TLSStartTLSRequired, Auth: AuthRequired}, ""},
		{"587:starttls-required:required:cleartext-auth", ListenerConfig{Port: 587, TLS: TLSStartTLSRequired, Auth: AuthRequired, CleartextAuth: true}, ""},
		{"2526:starttls:credentials:tls-auth-only", ListenerConfig{Port: 2526, TLS: TLSStartTLS, Auth: AuthCredentials}, ""},
		{"465:implicit:reject", ListenerConfig{Port: 465, TLS: TLSImplicit, Auth: AuthReject, CleartextAuth: true}, ""},
		{"x:none:off", ListenerConfig{}, "port"},
		{"70000", ListenerConfig{}, "port"},
		{"25:ssl", ListenerConfig{}, `"ssl" is not one of none, starttls, starttls-required, implicit`},
		{"25:none:maybe", ListenerConfig{}, "auth mode"},
		{"25:none:off:loud", ListenerConfig{}, "option"},
		{"25:none:off:cleartext-auth:x", ListenerConfig{}, "PORT:TLS:AUTH"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ParseListener(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
			// String renders what ParseListener reads back.
			if again, err := ParseListener(got.String()); err != nil || again != got {
				t.Fatalf("round trip %q: %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	env := map[string]string{
		"MAILSINK_SMTP":             "1025:none:off 1587:starttls-required:credentials",
		"MAILSINK_CREDENTIALS":      "app:pw,ci:token:with:colons",
		"MAILSINK_MAX_MESSAGE_SIZE": "10M",
		"MAILSINK_BIND":             "0.0.0.0",
		"MAILSINK_SMTP_TIMEOUT":     "5s",
		"MAILSINK_HTTP_PORT":        "9000",
	}
	cfg, err := LoadConfig([]string{"--http", "9001", "--max-messages", "5"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Listeners) != 2 || cfg.Listeners[1].Auth != AuthCredentials || !cfg.ListenersChosen {
		t.Errorf("listeners = %+v", cfg.Listeners)
	}
	if cfg.Credentials["ci"] != "token:with:colons" || cfg.MaxMessageSize != 10<<20 || cfg.Bind != "0.0.0.0" ||
		cfg.SMTPTimeout != 5*time.Second || cfg.HTTPPort != 9001 || cfg.MaxMessages != 5 {
		t.Errorf("cfg = %+v (flags must win over env)", cfg)
	}

	def, err := LoadConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil || def.Bind != "127.0.0.1" || def.ListenersChosen || !slices.Equal(def.Listeners, DefaultListeners()) {
		t.Errorf("defaults = %+v, %v", def, err)
	}
	none, err := LoadConfig([]string{"--smtp", "none"}, func(string) string { return "" }, io.Discard)
	if err != nil || len(none.Listeners) != 0 {
		t.Errorf("--smtp none = %+v, %v", none.Listeners, err)
	}
}

func TestLoadConfigErrorsNameTheVariable(t *testing.T) {
	tests := []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"MAILSINK_HTTP_PORT": "web"}, nil, "MAILSINK_HTTP_PORT"},
		{map[string]string{"MAILSINK_BIND": "everywhere"}, nil, "MAILSINK_BIND"},
		{map[string]string{"MAILSINK_MAX_MESSAGE_SIZE": "big"}, nil, "MAILSINK_MAX_MESSAGE_SIZE"},
		{map[string]string{"MAILSINK_SMTP": "25,25"}, nil, "twice"},
		{map[string]string{"MAILSINK_SMTP": "2525:none:credentials"}, nil, "MAILSINK_CREDENTIALS is empty"},
		{map[string]string{"MAILSINK_TLS_CERT": "/x.pem"}, nil, "together"},
		{map[string]string{"MAILSINK_SMTP_TIMEOUT": "-1s"}, nil, "MAILSINK_SMTP_TIMEOUT"},
		{nil, []string{"--smtp", "25:tls"}, "TLS mode"},
		{nil, []string{"extra"}, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := LoadConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestUsageListsEveryVariable(t *testing.T) {
	var b strings.Builder
	Usage(&b)
	for _, v := range EnvVars() {
		if !strings.Contains(b.String(), v) {
			t.Errorf("usage lacks %s", v)
		}
	}
}

func TestREADMEDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings() {
		row := "| `--" + s.flag + "`"
		if !strings.Contains(string(readme), row) || !strings.Contains(string(readme), s.env) {
			t.Errorf("README's configuration table lacks %s / %s", row, s.env)
		}
	}
}
