package app

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"miaohui/migrations"
	"miaohui/orders"
)

// Config is everything the fair binary reads from its environment. Every field
// has an embedded default, so a bare `fair demo` needs nothing set.
type Config struct {
	HTTPAddr            string // FAIR_HTTP_ADDR
	DataDir             string // FAIR_DATA_DIR
	DatabaseURL         string // FAIR_DATABASE_URL; empty: SQLite file in DataDir
	RedisURL            string // FAIR_REDIS_URL; empty: in-process Redis
	PaymentProvider     string // FAIR_PAYMENT_PROVIDER: sandbox | stripe
	StripeSecretKey     string // FAIR_STRIPE_SECRET_KEY
	StripeWebhookSecret string // FAIR_STRIPE_WEBHOOK_SECRET
	StripeAPIBase       string // FAIR_STRIPE_API_BASE
	// StripePaymentMethods are the payment method types Stripe Checkout
	// offers: card, alipay, wechat_pay (FAIR_STRIPE_PAYMENT_METHODS).
	StripePaymentMethods []string
	// PublicURL is the site's address as buyers reach it, without a trailing
	// slash; Stripe Checkout sends them back there (FAIR_PUBLIC_URL; default
	// http://localhost:<port of FAIR_HTTP_ADDR>).
	PublicURL     string
	PaymentWindow time.Duration // FAIR_PAYMENT_WINDOW
	PayoutHold    time.Duration // FAIR_PAYOUT_HOLD
	// AfterSalesReply is how long a merchant has to answer an after-sales
	// request before its buyer may escalate it (FAIR_AFTER_SALES_REPLY).
	AfterSalesReply time.Duration
	SMTPURL         string   // FAIR_SMTP_URL
	FlashUserRPS    int      // FAIR_FLASH_USER_RPS
	FlashIPRPS      int      // FAIR_FLASH_IP_RPS
	TrustedProxies  []string // FAIR_TRUSTED_PROXIES

	// PageCacheTTL is how long a public page or list, rendered once for
	// anonymous visitors, is served from memory (FAIR_PAGE_CACHE_TTL; 0 turns
	// the cache off). Writes drop it sooner, on every process.
	PageCacheTTL time.Duration

	// AuthAttemptsPerMinute bounds logins per client address and per
	// (account, address), and registrations per address and per email; an
	// account's failed logins from all addresses may number ten times as
	// many per 15 minutes (FAIR_AUTH_ATTEMPTS_PER_MINUTE).
	AuthAttemptsPerMinute int
	// BodyLimit is the largest request body accepted, in bytes (FAIR_BODY_LIMIT).
	BodyLimit int
	// PasswordMemoryKiB and PasswordIterations are the argon2id cost; only tests
	// lower them (ASVS minimum: 19 MiB, 2 iterations).
	PasswordMemoryKiB  uint32
	PasswordIterations uint32
}

// DefaultConfig is the configuration with nothing set.
func DefaultConfig() Config {
	return Config{
		HTTPAddr:              ":8080",
		DataDir:               "./data",
		PaymentProvider:       "sandbox",
		StripePaymentMethods:  slices.Clone(orders.StripePaymentMethods),
		PublicURL:             "http://localhost:8080",
		PaymentWindow:         15 * time.Minute,
		PayoutHold:            orders.DefaultPayoutHold,
		AfterSalesReply:       orders.DefaultAfterSalesReply,
		FlashUserRPS:          5,
		FlashIPRPS:            50,
		PageCacheTTL:          2 * time.Second,
		AuthAttemptsPerMinute: 10,
		BodyLimit:             8 << 20,
		PasswordMemoryKiB:     19 * 1024,
		PasswordIterations:    2,
	}
}

// ConfigError names the variable whose value is wrong.
type ConfigError struct {
	Var, Value, Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("configuration: %s=%q: %s", e.Var, e.Value, e.Reason)
}

// LoadConfig reads the FAIR_* variables through getenv over the defaults and
// validates them; every problem found is reported, each naming its variable.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	var errs []error
	bad := func(name, value, reason string) { errs = append(errs, &ConfigError{name, value, reason}) }
	str := func(name string, dst *string) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			*dst = v
		}
	}
	integer := func(name string, dst *int, min int) {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			bad(name, v, fmt.Sprintf("want a whole number ≥ %d", min))
			return
		}
		*dst = n
	}

	str("FAIR_HTTP_ADDR", &c.HTTPAddr)
	str("FAIR_DATA_DIR", &c.DataDir)
	str("FAIR_DATABASE_URL", &c.DatabaseURL)
	str("FAIR_REDIS_URL", &c.RedisURL)
	str("FAIR_PAYMENT_PROVIDER", &c.PaymentProvider)
	str("FAIR_STRIPE_SECRET_KEY", &c.StripeSecretKey)
	str("FAIR_STRIPE_WEBHOOK_SECRET", &c.StripeWebhookSecret)
	str("FAIR_STRIPE_API_BASE", &c.StripeAPIBase)
	publicURL := strings.TrimSpace(getenv("FAIR_PUBLIC_URL"))
	str("FAIR_SMTP_URL", &c.SMTPURL)
	integer("FAIR_FLASH_USER_RPS", &c.FlashUserRPS, 0)
	integer("FAIR_FLASH_IP_RPS", &c.FlashIPRPS, 0)
	integer("FAIR_AUTH_ATTEMPTS_PER_MINUTE", &c.AuthAttemptsPerMinute, 1)
	integer("FAIR_BODY_LIMIT", &c.BodyLimit, 1024)

	if v := strings.TrimSpace(getenv("FAIR_PAYMENT_WINDOW")); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			bad("FAIR_PAYMENT_WINDOW", v, "want a Go duration such as 15m")
		case d < time.Second || d > 24*time.Hour:
			bad("FAIR_PAYMENT_WINDOW", v, "want between 1s and 24h")
		default:
			c.PaymentWindow = d
		}
	}
	if v := strings.TrimSpace(getenv("FAIR_PAGE_CACHE_TTL")); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			bad("FAIR_PAGE_CACHE_TTL", v, "want a Go duration such as 2s")
		case d < 0 || d > time.Minute:
			bad("FAIR_PAGE_CACHE_TTL", v, "want between 0 (off) and 1m")
		default:
			c.PageCacheTTL = d
		}
	}
	if v := strings.TrimSpace(getenv("FAIR_PAYOUT_HOLD")); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			bad("FAIR_PAYOUT_HOLD", v, "want a Go duration such as 72h")
		case d < 0 || d > 90*24*time.Hour:
			bad("FAIR_PAYOUT_HOLD", v, "want between 0s and 2160h (90 days)")
		default:
			c.PayoutHold = d
		}
	}
	if v := strings.TrimSpace(getenv("FAIR_AFTER_SALES_REPLY")); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			bad("FAIR_AFTER_SALES_REPLY", v, "want a Go duration such as 48h")
		case d < time.Minute || d > 30*24*time.Hour:
			bad("FAIR_AFTER_SALES_REPLY", v, "want between 1m and 720h (30 days)")
		default:
			c.AfterSalesReply = d
		}
	}
	if v := strings.TrimSpace(getenv("FAIR_TRUSTED_PROXIES")); v != "" {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			if _, err := netip.ParsePrefix(p); err != nil {
				if _, err := netip.ParseAddr(p); err != nil {
					bad("FAIR_TRUSTED_PROXIES", v, fmt.Sprintf("%q is neither an address nor a CIDR", p))
					continue
				}
			}
			c.TrustedProxies = append(c.TrustedProxies, p)
		}
	}

	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("FAIR_HTTP_ADDR", c.HTTPAddr, "want host:port, e.g. :8080")
	}
	if u := c.DatabaseURL; u != "" && !migrations.IsPostgresURL(u) && !strings.HasPrefix(u, "file:") {
		bad("FAIR_DATABASE_URL", mask(u), "want postgres://… (or a SQLite file: DSN); leave empty for the embedded database")
	}
	if u := c.RedisURL; u != "" {
		if _, err := redis.ParseURL(u); err != nil {
			bad("FAIR_REDIS_URL", mask(u), "want redis://[user:password@]host:port[/db]")
		}
	}
	switch c.PaymentProvider {
	case "sandbox":
	case "stripe":
		if c.StripeSecretKey == "" {
			bad("FAIR_STRIPE_SECRET_KEY", "", "required when FAIR_PAYMENT_PROVIDER=stripe")
		}
		if c.StripeWebhookSecret == "" {
			bad("FAIR_STRIPE_WEBHOOK_SECRET", "", "required when FAIR_PAYMENT_PROVIDER=stripe")
		}
	default:
		bad("FAIR_PAYMENT_PROVIDER", c.PaymentProvider, "want sandbox or stripe")
	}
	if u := c.StripeAPIBase; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			bad("FAIR_STRIPE_API_BASE", u, "want an http(s) URL")
		}
	}
	if v := strings.TrimSpace(getenv("FAIR_STRIPE_PAYMENT_METHODS")); v != "" {
		var methods, unknown []string
		for _, m := range strings.Split(v, ",") {
			m = strings.TrimSpace(m)
			switch {
			case m == "":
			case !slices.Contains(orders.StripePaymentMethods, m):
				unknown = append(unknown, strconv.Quote(m))
			case !slices.Contains(methods, m):
				methods = append(methods, m)
			}
		}
		switch {
		case len(unknown) > 0:
			bad("FAIR_STRIPE_PAYMENT_METHODS", v, strings.Join(unknown, ", ")+": want card, alipay or wechat_pay")
		case len(methods) == 0:
			bad("FAIR_STRIPE_PAYMENT_METHODS", v, "want a comma-separated list of card, alipay, wechat_pay")
		}
		c.StripePaymentMethods = methods
	}
	if publicURL == "" {
		if _, port, err := net.SplitHostPort(c.HTTPAddr); err == nil && port != "" {
			c.PublicURL = "http://localhost:" + port
		}
	} else if p, err := url.Parse(publicURL); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" ||
		p.User != nil || p.RawQuery != "" || p.Fragment != "" {
		bad("FAIR_PUBLIC_URL", publicURL, "want the site's http(s) address, e.g. https://fair.example.com")
	} else {
		c.PublicURL = strings.TrimRight(publicURL, "/")
	}
	if u := c.SMTPURL; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "smtp" && p.Scheme != "smtps") || p.Hostname() == "" {
			bad("FAIR_SMTP_URL", mask(u), "want smtp://user:pass@host:port or smtps://…")
		}
	}
	return c, errors.Join(errs...)
}

// Masked returns the configuration as key/value pairs for the start-up log,
// with passwords in URLs and secret keys hidden.
func (c Config) Masked() []any {
	secret := func(s string) string {
		if s == "" {
			return ""
		}
		return "****"
	}
	return []any{
		"FAIR_HTTP_ADDR", c.HTTPAddr,
		"FAIR_DATA_DIR", c.DataDir,
		"FAIR_DATABASE_URL", mask(c.DatabaseURL),
		"FAIR_REDIS_URL", mask(c.RedisURL),
		"FAIR_PAYMENT_PROVIDER", c.PaymentProvider,
		"FAIR_STRIPE_SECRET_KEY", secret(c.StripeSecretKey),
		"FAIR_STRIPE_WEBHOOK_SECRET", secret(c.StripeWebhookSecret),
		"FAIR_STRIPE_API_BASE", c.StripeAPIBase,
		"FAIR_STRIPE_PAYMENT_METHODS", strings.Join(c.StripePaymentMethods, ","),
		"FAIR_PUBLIC_URL", c.PublicURL,
		"FAIR_PAYMENT_WINDOW", c.PaymentWindow.String(),
		"FAIR_PAYOUT_HOLD", c.PayoutHold.String(),
		"FAIR_AFTER_SALES_REPLY", c.AfterSalesReply.String(),
		"FAIR_SMTP_URL", mask(c.SMTPURL),
		"FAIR_FLASH_USER_RPS", c.FlashUserRPS,
		"FAIR_FLASH_IP_RPS", c.FlashIPRPS,
		"FAIR_TRUSTED_PROXIES", strings.Join(c.TrustedProxies, ","),
		"FAIR_PAGE_CACHE_TTL", c.PageCacheTTL.String(),
	}
}

// mask hides the password of a URL's user info. A URL that does not parse
// loses everything between the scheme and the last "@".
func mask(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		at := strings.LastIndex(raw, "@")
		if at < 0 {
			return raw
		}
		start := strings.Index(raw, "://")
		if start < 0 || start+3 > at {
			return "****" + raw[at:]
		}
		return raw[:start+3] + "****" + raw[at:]
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "MASKED")
		return strings.Replace(u.String(), ":MASKED@", ":****@", 1)
	}
	return u.String()
}
