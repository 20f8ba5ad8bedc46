package app

import "miaohui/orders"

// NewProvider returns the payment provider the configuration names.
func NewProvider(cfg Config) (orders.Provider, error) {
	if cfg.PaymentProvider == "stripe" {
		return orders.NewStripe(orders.StripeConfig{
			SecretKey: cfg.StripeSecretKey, APIBase: cfg.StripeAPIBase,
			PublicURL: cfg.PublicURL, PaymentMethods: cfg.StripePaymentMethods,
		}), nil
	}
	return orders.Sandbox{}, nil
}
