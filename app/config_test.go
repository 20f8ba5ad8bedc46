package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// envOf is a getenv over a fixed map.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// configErrorVars lists the variables every *ConfigError inside err names.
func configErrorVars(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if ce, ok := e.(*ConfigError); ok {
			out = append(out, ce.Var)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := LoadConfig(envOf(nil))
	if err != nil {
		t.Fatalf("LoadConfig with nothing set: %v", err)
	}
	// The defaults API.md documents, and the internal limits.
	want := DefaultConfig()
	want.HTTPAddr = ":8080"
	want.DataDir = "./data"
	want.DatabaseURL = ""
	want.RedisURL = ""
	want.PaymentProvider = "sandbox"
	want.StripeSecretKey, want.StripeWebhookSecret, want.StripeAPIBase = "", "", ""
	want.StripePaymentMethods = []string{"card", "alipay", "wechat_pay"}
	want.PublicURL = "http://localhost:8080"
	want.PaymentWindow = 15 * time.Minute
	want.AfterSalesReply = 48 * time.Hour
	want.SMTPURL = ""
	want.FlashUserRPS = 5
	want.FlashIPRPS = 50
	want.TrustedProxies = nil
	want.AuthAttemptsPerMinute = 10
	want.BodyLimit = 8 << 20
	want.PasswordMemoryKiB = 19 * 1024 // ASVS minimum for argon2id
	want.PasswordIterations = 2
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
	if !reflect.DeepEqual(cfg, DefaultConfig()) {
		t.Fatalf("LoadConfig(empty) %+v differs from DefaultConfig() %+v", cfg, DefaultConfig())
	}
	// Blank values (only spaces) count as unset.
	blank := map[string]string{}
	for _, k := range []string{"FAIR_HTTP_ADDR", "FAIR_DATA_DIR", "FAIR_DATABASE_URL", "FAIR_REDIS_URL",
		"FAIR_PAYMENT_PROVIDER", "FAIR_PAYMENT_WINDOW", "FAIR_PAYOUT_HOLD", "FAIR_FLASH_USER_RPS", "FAIR_FLASH_IP_RPS",
		"FAIR_TRUSTED_PROXIES", "FAIR_SMTP_URL", "FAIR_STRIPE_API_BASE", "FAIR_BODY_LIMIT", "FAIR_AUTH_ATTEMPTS_PER_MINUTE",
		"FAIR_STRIPE_PAYMENT_METHODS", "FAIR_PUBLIC_URL", "FAIR_AFTER_SALES_REPLY"} {
		blank[k] = "  "
	}
	cfg, err = LoadConfig(envOf(blank))
	if err != nil {
		t.Fatalf("LoadConfig with blank values: %v", err)
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("blank values:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestConfigEveryVariableParsed(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{"all set, PostgreSQL and stripe", map[string]string{
			"FAIR_HTTP_ADDR":                "127.0.0.1:9090",
			"FAIR_DATA_DIR":                 "/var/lib/fair",
			"FAIR_DATABASE_URL":             "postgres://fair:pw@db.internal:5432/fair?sslmode=disable",
			"FAIR_REDIS_URL":                "redis://:pw@redis.internal:6379/2",
			"FAIR_PAYMENT_PROVIDER":         "stripe",
			"FAIR_STRIPE_SECRET_KEY":        "sk_test_123",
			"FAIR_STRIPE_WEBHOOK_SECRET":    "whsec_456",
			"FAIR_STRIPE_API_BASE":          "http://127.0.0.1:12111",
			"FAIR_STRIPE_PAYMENT_METHODS":   "wechat_pay, card",
			"FAIR_PUBLIC_URL":               "https://fair.example.com/",
			"FAIR_PAYMENT_WINDOW":           "30m",
			"FAIR_SMTP_URL":                 "smtp://mailer:pw@mail.internal:587",
			"FAIR_FLASH_USER_RPS":           "7",
			"FAIR_FLASH_IP_RPS":             "0",
			"FAIR_TRUSTED_PROXIES":          "10.0.0.0/8, 192.168.1.1,,::1",
			"FAIR_AUTH_ATTEMPTS_PER_MINUTE": "3",
			"FAIR_BODY_LIMIT":               "4096",
		}, func(t *testing.T, c Config) {
			want := DefaultConfig()
			want.HTTPAddr = "127.0.0.1:9090"
			want.DataDir = "/var/lib/fair"
			want.DatabaseURL = "postgres://fair:pw@db.internal:5432/fair?sslmode=disable"
			want.RedisURL = "redis://:pw@redis.internal:6379/2"
			want.PaymentProvider = "stripe"
			want.StripeSecretKey = "sk_test_123"
			want.StripeWebhookSecret = "whsec_456"
			want.StripeAPIBase = "http://127.0.0.1:12111"
			want.StripePaymentMethods = []string{"wechat_pay", "card"}
			want.PublicURL = "https://fair.example.com"
			want.PaymentWindow = 30 * time.Minute
			want.SMTPURL = "smtp://mailer:pw@mail.internal:587"
			want.FlashUserRPS = 7
			want.FlashIPRPS = 0
			want.TrustedProxies = []string{"10.0.0.0/8", "192.168.1.1", "::1"}
			want.AuthAttemptsPerMinute = 3
			want.BodyLimit = 4096
			if !reflect.DeepEqual(c, want) {
				t.Fatalf("\n got %+v\nwant %+v", c, want)
			}
		}},
		{"postgresql scheme and SQLite DSN", map[string]string{"FAIR_DATABASE_URL": "postgresql://db/fair"}, func(t *testing.T, c Config) {
			if c.DatabaseURL != "postgresql://db/fair" {
				t.Fatalf("DatabaseURL %q", c.DatabaseURL)
			}
		}},
		{"SQLite file DSN", map[string]string{"FAIR_DATABASE_URL": "file:/tmp/x.db?_pragma=busy_timeout(100)"}, func(t *testing.T, c Config) {
			if c.DatabaseURL != "file:/tmp/x.db?_pragma=busy_timeout(100)" {
				t.Fatalf("DatabaseURL %q", c.DatabaseURL)
			}
		}},
		{"values are trimmed", map[string]string{"FAIR_HTTP_ADDR": " :9000 ", "FAIR_PAYMENT_WINDOW": " 1h ", "FAIR_FLASH_USER_RPS": " 2 "}, func(t *testing.T, c Config) {
			if c.HTTPAddr != ":9000" || c.PaymentWindow != time.Hour || c.FlashUserRPS != 2 {
				t.Fatalf("got addr %q window %s user rps %d", c.HTTPAddr, c.PaymentWindow, c.FlashUserRPS)
			}
		}},
		{"payment window bounds are inclusive", map[string]string{"FAIR_PAYMENT_WINDOW": "1m"}, func(t *testing.T, c Config) {
			if c.PaymentWindow != time.Minute {
				t.Fatalf("PaymentWindow %s", c.PaymentWindow)
			}
		}},
		{"payout hold 0s releases at shipping", map[string]string{"FAIR_PAYOUT_HOLD": "0s"}, func(t *testing.T, c Config) {
			if c.PayoutHold != 0 {
				t.Fatalf("PayoutHold = %v, want 0", c.PayoutHold)
			}
		}},
		{"payout hold 24h", map[string]string{"FAIR_PAYOUT_HOLD": "24h"}, func(t *testing.T, c Config) {
			if c.PayoutHold != 24*time.Hour {
				t.Fatalf("PayoutHold = %v, want 24h", c.PayoutHold)
			}
		}},
		{"after-sales reply 2h", map[string]string{"FAIR_AFTER_SALES_REPLY": "2h"}, func(t *testing.T, c Config) {
			if c.AfterSalesReply != 2*time.Hour {
				t.Fatalf("AfterSalesReply = %v, want 2h", c.AfterSalesReply)
			}
		}},
		{"payment window 24h", map[string]string{"FAIR_PAYMENT_WINDOW": "24h"}, func(t *testing.T, c Config) {
			if c.PaymentWindow != 24*time.Hour {
				t.Fatalf("PaymentWindow %s", c.PaymentWindow)
			}
		}},
		{"smtps and https stripe base", map[string]string{"FAIR_SMTP_URL": "smtps://mail.example.com:465", "FAIR_STRIPE_API_BASE": "https://api.stripe.com"}, func(t *testing.T, c Config) {
			if c.SMTPURL != "smtps://mail.example.com:465" || c.StripeAPIBase != "https://api.stripe.com" {
				t.Fatalf("got %q %q", c.SMTPURL, c.StripeAPIBase)
			}
		}},
		{"public url follows the listen port", map[string]string{"FAIR_HTTP_ADDR": "0.0.0.0:9191"}, func(t *testing.T, c Config) {
			if c.PublicURL != "http://localhost:9191" {
				t.Fatalf("PublicURL %q, want http://localhost:9191", c.PublicURL)
			}
		}},
		{"one payment method, duplicates and blanks dropped", map[string]string{"FAIR_STRIPE_PAYMENT_METHODS": "alipay,,alipay "}, func(t *testing.T, c Config) {
			if !reflect.DeepEqual(c.StripePaymentMethods, []string{"alipay"}) {
				t.Fatalf("StripePaymentMethods %q, want [alipay]", c.StripePaymentMethods)
			}
		}},
		{"public url with a path", map[string]string{"FAIR_PUBLIC_URL": "http://10.0.0.5:8080/fair"}, func(t *testing.T, c Config) {
			if c.PublicURL != "http://10.0.0.5:8080/fair" {
				t.Fatalf("PublicURL %q", c.PublicURL)
			}
		}},
		{"sandbox ignores missing stripe keys", map[string]string{"FAIR_PAYMENT_PROVIDER": "sandbox"}, func(t *testing.T, c Config) {
			if c.PaymentProvider != "sandbox" {
				t.Fatalf("PaymentProvider %q", c.PaymentProvider)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(envOf(tt.env))
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestConfigBadValues(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		wantVars []string
	}{
		{"http addr", map[string]string{"FAIR_HTTP_ADDR": "nonsense"}, []string{"FAIR_HTTP_ADDR"}},
		{"database url mysql", map[string]string{"FAIR_DATABASE_URL": "mysql://x"}, []string{"FAIR_DATABASE_URL"}},
		{"redis url http", map[string]string{"FAIR_REDIS_URL": "http://x"}, []string{"FAIR_REDIS_URL"}},
		{"payment provider paypal", map[string]string{"FAIR_PAYMENT_PROVIDER": "paypal"}, []string{"FAIR_PAYMENT_PROVIDER"}},
		{"payment window soon", map[string]string{"FAIR_PAYMENT_WINDOW": "soon"}, []string{"FAIR_PAYMENT_WINDOW"}},
		{"payment window 0s", map[string]string{"FAIR_PAYMENT_WINDOW": "0s"}, []string{"FAIR_PAYMENT_WINDOW"}},
		{"payment window too long", map[string]string{"FAIR_PAYMENT_WINDOW": "25h"}, []string{"FAIR_PAYMENT_WINDOW"}},
		{"payout hold soon", map[string]string{"FAIR_PAYOUT_HOLD": "soon"}, []string{"FAIR_PAYOUT_HOLD"}},
		{"payout hold negative", map[string]string{"FAIR_PAYOUT_HOLD": "-1h"}, []string{"FAIR_PAYOUT_HOLD"}},
		{"payout hold a year", map[string]string{"FAIR_PAYOUT_HOLD": "8760h"}, []string{"FAIR_PAYOUT_HOLD"}},
		{"after-sales reply soon", map[string]string{"FAIR_AFTER_SALES_REPLY": "soon"}, []string{"FAIR_AFTER_SALES_REPLY"}},
		{"after-sales reply zero", map[string]string{"FAIR_AFTER_SALES_REPLY": "0s"}, []string{"FAIR_AFTER_SALES_REPLY"}},
		{"after-sales reply a year", map[string]string{"FAIR_AFTER_SALES_REPLY": "8760h"}, []string{"FAIR_AFTER_SALES_REPLY"}},
		{"flash user rps negative", map[string]string{"FAIR_FLASH_USER_RPS": "-1"}, []string{"FAIR_FLASH_USER_RPS"}},
		{"flash user rps abc", map[string]string{"FAIR_FLASH_USER_RPS": "abc"}, []string{"FAIR_FLASH_USER_RPS"}},
		{"flash ip rps x", map[string]string{"FAIR_FLASH_IP_RPS": "x"}, []string{"FAIR_FLASH_IP_RPS"}},
		{"smtp url http", map[string]string{"FAIR_SMTP_URL": "http://h"}, []string{"FAIR_SMTP_URL"}},
		{"trusted proxies", map[string]string{"FAIR_TRUSTED_PROXIES": "not-an-ip"}, []string{"FAIR_TRUSTED_PROXIES"}},
		{"trusted proxies one bad of two", map[string]string{"FAIR_TRUSTED_PROXIES": "10.0.0.1,not-an-ip"}, []string{"FAIR_TRUSTED_PROXIES"}},
		{"stripe api base ftp", map[string]string{"FAIR_STRIPE_API_BASE": "ftp://x"}, []string{"FAIR_STRIPE_API_BASE"}},
		{"stripe without keys", map[string]string{"FAIR_PAYMENT_PROVIDER": "stripe"}, []string{"FAIR_STRIPE_SECRET_KEY", "FAIR_STRIPE_WEBHOOK_SECRET"}},
		{"stripe without webhook secret", map[string]string{"FAIR_PAYMENT_PROVIDER": "stripe", "FAIR_STRIPE_SECRET_KEY": "sk_test_1"}, []string{"FAIR_STRIPE_WEBHOOK_SECRET"}},
		{"auth attempts zero", map[string]string{"FAIR_AUTH_ATTEMPTS_PER_MINUTE": "0"}, []string{"FAIR_AUTH_ATTEMPTS_PER_MINUTE"}},
		{"body limit too small", map[string]string{"FAIR_BODY_LIMIT": "10"}, []string{"FAIR_BODY_LIMIT"}},
		{"payment method paypal", map[string]string{"FAIR_STRIPE_PAYMENT_METHODS": "card,paypal"}, []string{"FAIR_STRIPE_PAYMENT_METHODS"}},
		{"payment methods only commas", map[string]string{"FAIR_STRIPE_PAYMENT_METHODS": ", ,"}, []string{"FAIR_STRIPE_PAYMENT_METHODS"}},
		{"payment method wrong case", map[string]string{"FAIR_STRIPE_PAYMENT_METHODS": "WeChat_Pay"}, []string{"FAIR_STRIPE_PAYMENT_METHODS"}},
		{"public url ftp", map[string]string{"FAIR_PUBLIC_URL": "ftp://fair.example.com"}, []string{"FAIR_PUBLIC_URL"}},
		{"public url without scheme", map[string]string{"FAIR_PUBLIC_URL": "fair.example.com"}, []string{"FAIR_PUBLIC_URL"}},
		{"public url with a query", map[string]string{"FAIR_PUBLIC_URL": "https://fair.example.com/?x=1"}, []string{"FAIR_PUBLIC_URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfig(envOf(tt.env))
			if err == nil {
				t.Fatalf("LoadConfig(%v) succeeded, want an error", tt.env)
			}
			for _, v := range tt.wantVars {
				if !strings.Contains(err.Error(), v) {
					t.Errorf("error %q does not name %s", err, v)
				}
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v holds no *ConfigError", err)
			}
			if got := configErrorVars(err); !reflect.DeepEqual(got, tt.wantVars) {
				t.Errorf("ConfigError variables %v, want %v", got, tt.wantVars)
			}
		})
	}
}

func TestConfigReportsEveryBadValue(t *testing.T) {
	env := map[string]string{
		"FAIR_HTTP_ADDR":              "nonsense",
		"FAIR_DATABASE_URL":           "mysql://x",
		"FAIR_REDIS_URL":              "http://x",
		"FAIR_PAYMENT_PROVIDER":       "paypal",
		"FAIR_PAYMENT_WINDOW":         "soon",
		"FAIR_FLASH_USER_RPS":         "-1",
		"FAIR_FLASH_IP_RPS":           "x",
		"FAIR_SMTP_URL":               "http://h",
		"FAIR_TRUSTED_PROXIES":        "not-an-ip",
		"FAIR_STRIPE_API_BASE":        "ftp://x",
		"FAIR_STRIPE_PAYMENT_METHODS": "bitcoin",
		"FAIR_PUBLIC_URL":             "javascript:alert(1)",
	}
	_, err := LoadConfig(envOf(env))
	if err == nil {
		t.Fatal("LoadConfig succeeded with twelve bad values")
	}
	got := map[string]bool{}
	for _, v := range configErrorVars(err) {
		got[v] = true
	}
	for v := range env {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("error does not name %s:\n%v", v, err)
		}
		if !got[v] {
			t.Errorf("no ConfigError for %s", v)
		}
	}
	if len(got) != len(env) {
		t.Errorf("ConfigError variables %v, want exactly %d", got, len(env))
	}
	// Stripe without keys adds both key variables to the other problems.
	_, err = LoadConfig(envOf(map[string]string{"FAIR_PAYMENT_PROVIDER": "stripe", "FAIR_HTTP_ADDR": "nonsense"}))
	for _, v := range []string{"FAIR_HTTP_ADDR", "FAIR_STRIPE_SECRET_KEY", "FAIR_STRIPE_WEBHOOK_SECRET"} {
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("error %v does not name %s", err, v)
		}
	}
}

func TestConfigMaskedHidesSecrets(t *testing.T) {
	const (
		dbPass     = "dbS3cretPass"
		redisPass  = "redisS3cretPass"
		smtpPass   = "smtpS3cretPass"
		stripeKey  = "sk_test_S3cretStripeKey"
		webhookKey = "whsec_S3cretWebhook"
	)
	env := map[string]string{
		"FAIR_DATABASE_URL":          "postgres://fair:" + dbPass + "@db.internal:5432/fair?sslmode=disable",
		"FAIR_REDIS_URL":             "redis://default:" + redisPass + "@redis.internal:6379/0",
		"FAIR_SMTP_URL":              "smtp://mailer:" + smtpPass + "@mail.internal:587",
		"FAIR_PAYMENT_PROVIDER":      "stripe",
		"FAIR_STRIPE_SECRET_KEY":     stripeKey,
		"FAIR_STRIPE_WEBHOOK_SECRET": webhookKey,
	}
	cfg, err := LoadConfig(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	masked := cfg.Masked()
	all := fmt.Sprint(masked...)
	for _, secret := range []string{dbPass, redisPass, smtpPass, stripeKey, webhookKey} {
		if strings.Contains(all, secret) {
			t.Errorf("Masked() shows %q:\n%s", secret, all)
		}
	}
	if s := fmt.Sprint(masked); strings.Contains(s, dbPass) || strings.Contains(s, stripeKey) {
		t.Errorf("fmt.Sprint(Masked()) shows a secret: %s", s)
	}
	if len(masked)%2 != 0 {
		t.Fatalf("Masked() has an odd number of elements: %v", masked)
	}
	kv := map[string]any{}
	for i := 0; i < len(masked); i += 2 {
		k, ok := masked[i].(string)
		if !ok {
			t.Fatalf("key %d is %T, want string", i, masked[i])
		}
		kv[k] = masked[i+1]
	}
	// The non-secret parts stay readable for the operator: each URL keeps its
	// scheme, user and host, and its password is a placeholder.
	for k, want := range map[string]string{
		"FAIR_DATABASE_URL": "postgres://fair@db.internal:5432",
		"FAIR_REDIS_URL":    "redis://default@redis.internal:6379",
		"FAIR_SMTP_URL":     "smtp://mailer@mail.internal:587",
	} {
		s, _ := kv[k].(string)
		u, err := url.Parse(s)
		if err != nil {
			t.Errorf("Masked()[%s] = %q does not parse: %v", k, s, err)
			continue
		}
		pw, _ := u.User.Password()
		if got := u.Scheme + "://" + u.User.Username() + "@" + u.Host; got != want || pw != "****" {
			t.Errorf("Masked()[%s] = %q, want %s with the password shown as ****", k, s, want)
		}
	}
	for k, want := range map[string]string{
		"FAIR_STRIPE_SECRET_KEY":     "****",
		"FAIR_STRIPE_WEBHOOK_SECRET": "****",
		"FAIR_PAYMENT_PROVIDER":      "stripe",
		"FAIR_HTTP_ADDR":             ":8080",
		"FAIR_PAYMENT_WINDOW":        "15m0s",
		"FAIR_PAYOUT_HOLD":           "72h0m0s",
		"FAIR_AFTER_SALES_REPLY":     "48h0m0s",
	} {
		if got := fmt.Sprint(kv[k]); got != want {
			t.Errorf("Masked()[%s] = %q, want %q", k, got, want)
		}
	}
	// A Redis URL with a password and no user name is masked too.
	cfg, err = LoadConfig(envOf(map[string]string{"FAIR_REDIS_URL": "redis://:" + redisPass + "@127.0.0.1:6379/1"}))
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(cfg.Masked()...); strings.Contains(s, redisPass) {
		t.Errorf("Masked() shows the Redis password: %s", s)
	}
	// Unset secrets stay empty rather than pretending to be set.
	if s := fmt.Sprint(DefaultConfig().Masked()...); strings.Contains(s, "****") {
		t.Errorf("Masked() of the defaults shows a placeholder: %s", s)
	}
}

func TestConfigErrorsDoNotShowPasswords(t *testing.T) {
	const secret = "hunter2S3cret"
	env := map[string]string{
		"FAIR_DATABASE_URL": "mysql://fair:" + secret + "@db:3306/fair",
		"FAIR_REDIS_URL":    "http://u:" + secret + "@x",
		"FAIR_SMTP_URL":     "http://u:" + secret + "@h",
	}
	_, err := LoadConfig(envOf(env))
	if err == nil {
		t.Fatal("want an error")
	}
	for _, v := range []string{"FAIR_DATABASE_URL", "FAIR_REDIS_URL", "FAIR_SMTP_URL"} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("error does not name %s: %v", v, err)
		}
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error shows the password: %v", err)
	}
}

func TestConfigRunRejectsBadValueBeforeStarting(t *testing.T) {
	dataDir := t.TempDir()
	env := map[string]string{
		"FAIR_DATA_DIR":       dataDir,
		"FAIR_HTTP_ADDR":      "127.0.0.1:0",
		"FAIR_PAYMENT_WINDOW": "soon",
	}
	var buf bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err := Run(ctx, []string{"fair", "serve"}, envOf(env), &buf)
	if err == nil {
		t.Fatalf("Run succeeded with a bad FAIR_PAYMENT_WINDOW; output:\n%s", buf.String())
	}
	if !strings.Contains(err.Error(), "FAIR_PAYMENT_WINDOW") {
		t.Errorf("error %q does not name FAIR_PAYMENT_WINDOW", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %s to reject the configuration", d)
	}
	for _, word := range []string{"starting", "listening", "migrated"} {
		if strings.Contains(buf.String(), word) {
			t.Errorf("output says %q, so something started:\n%s", word, buf.String())
		}
	}
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("data dir is not empty after a rejected start: %v", entries)
	}

	// Every command checks the configuration first.
	for _, args := range [][]string{{"fair", "worker"}, {"fair", "migrate", "status"}, {"fair", "demo"}} {
		buf.Reset()
		err := Run(ctx, args, envOf(map[string]string{"FAIR_DATA_DIR": dataDir, "FAIR_FLASH_IP_RPS": "x"}), &buf)
		if err == nil || !strings.Contains(err.Error(), "FAIR_FLASH_IP_RPS") {
			t.Errorf("%v: error %v, want one naming FAIR_FLASH_IP_RPS", args[1:], err)
		}
	}
	if entries, _ := os.ReadDir(dataDir); len(entries) != 0 {
		t.Errorf("data dir is not empty after rejected commands: %v", entries)
	}
}
