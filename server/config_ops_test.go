package server

import (
	"io"
	"strings"
	"testing"
	"time"
)

// The webhook and HTTP authentication settings: read from variables and
// flags, defaults as documented, mistakes named by variable and never
// echoing a secret.
func TestWebhookAndAuthSettings(t *testing.T) {
	env := map[string]string{
		"MAILSINK_WEBHOOK_URL":              "https://hooks.example.test/mail",
		"MAILSINK_WEBHOOK_LIMIT":            "2.5",
		"MAILSINK_WEBHOOK_DELAY":            "2s",
		"MAILSINK_UI_AUTH":                  "alice:s3cret bob:pa:ss",
		"MAILSINK_SEND_API_AUTH_FILE":       "/etc/mailsink/send.htpasswd",
		"MAILSINK_SEND_API_AUTH_ACCEPT_ANY": "",
	}
	cfg, err := LoadConfig([]string{"--webhook-timeout", "1s", "--webhook-queue", "7", "--ui-auth-file", "/etc/mailsink/ui.htpasswd"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WebhookURL != "https://hooks.example.test/mail" || cfg.WebhookLimit != 2.5 || cfg.WebhookDelay != 2*time.Second ||
		cfg.WebhookTimeout != time.Second || cfg.WebhookQueue != 7 {
		t.Errorf("webhook settings %+v", cfg)
	}
	if cfg.UIAuth["alice"] != "s3cret" || cfg.UIAuth["bob"] != "pa:ss" || cfg.UIAuthFile != "/etc/mailsink/ui.htpasswd" ||
		cfg.SendAPIAuthFile != "/etc/mailsink/send.htpasswd" || cfg.SendAPIAuthAcceptAny {
		t.Errorf("auth settings %+v", cfg)
	}

	def := DefaultConfig()
	if def.WebhookURL != "" || def.WebhookLimit != 10 || def.WebhookDelay != 0 || def.WebhookTimeout != 5*time.Second ||
		def.WebhookQueue != 1000 || def.UIAuth != nil || def.SendAPIAuthAcceptAny {
		t.Errorf("defaults %+v: webhooks and authentication must be off", def)
	}

	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"MAILSINK_WEBHOOK_URL": "ftp://x.test/"}, "MAILSINK_WEBHOOK_URL"},
		{map[string]string{"MAILSINK_WEBHOOK_URL": "hooks.example.test"}, "MAILSINK_WEBHOOK_URL"},
		{map[string]string{"MAILSINK_WEBHOOK_LIMIT": "-1"}, "MAILSINK_WEBHOOK_LIMIT"},
		{map[string]string{"MAILSINK_WEBHOOK_LIMIT": "fast"}, "MAILSINK_WEBHOOK_LIMIT"},
		{map[string]string{"MAILSINK_WEBHOOK_DELAY": "-2s"}, "MAILSINK_WEBHOOK_DELAY"},
		{map[string]string{"MAILSINK_WEBHOOK_TIMEOUT": "0s"}, "MAILSINK_WEBHOOK_TIMEOUT"},
		{map[string]string{"MAILSINK_WEBHOOK_QUEUE": "0"}, "MAILSINK_WEBHOOK_QUEUE"},
		{map[string]string{"MAILSINK_UI_AUTH": "alice"}, "MAILSINK_UI_AUTH"},
		{map[string]string{"MAILSINK_SEND_API_AUTH": "ci:"}, "MAILSINK_SEND_API_AUTH"},
		{map[string]string{"MAILSINK_SEND_API_AUTH_ACCEPT_ANY": "maybe"}, "MAILSINK_SEND_API_AUTH_ACCEPT_ANY"},
		{map[string]string{"MAILSINK_SEND_API_AUTH_ACCEPT_ANY": "true", "MAILSINK_SEND_API_AUTH": "ci:pw"}, "one or the other"},
	} {
		_, err := LoadConfig(nil, func(k string) string { return tt.env[k] }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want it to mention %q", tt.env, err, tt.want)
		}
	}
	// A password in a bad URL or a bad pair is not repeated.
	_, err = LoadConfig(nil, func(k string) string {
		return map[string]string{"MAILSINK_WEBHOOK_URL": "ftp://user:hunter2@x.test/"}[k]
	}, io.Discard)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("err = %v: shows the password", err)
	}
	// Nor on the command line, where the flag package would repeat it.
	for _, args := range [][]string{{"--ui-auth", "alice:hunter2 bob"}, {"--credentials", "app:hunter2,x"}, {"--webhook-url", "ftp://u:hunter2@x.test/"}} {
		var out strings.Builder
		_, err := LoadConfig(args, func(string) string { return "" }, &out)
		if err == nil || !strings.Contains(err.Error(), args[0]) || strings.Contains(err.Error()+out.String(), "hunter2") {
			t.Errorf("%v: err %v, output %q: want an error naming the flag, never the password", args, err, out.String())
		}
	}
}
